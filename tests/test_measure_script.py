"""scripts/measure_app.py's CPU-steal reading (no browser): the share of CPU time between two
readings of ``/proc/stat`` that the hypervisor gave to other guests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import measure_app as m


def test_steal_share_is_the_steal_counters_share_of_all_cpu_time():
    # user nice system idle iowait irq softirq steal (guest counters after: not summed)
    before = [100, 0, 50, 800, 10, 0, 5, 35, 0, 0]
    after = [160, 0, 70, 900, 10, 0, 5, 55, 7, 0]  # +60 +20 +100 +20 steal = 200 in all
    assert m.steal_share(before, after) == pytest.approx(20 / 200)
    assert m.steal_share(before, before) is None  # no time passed
    assert m.steal_share(None, after) is None
    assert m.steal_share(before[:7], after) is None  # a kernel without the counter


def test_cpu_times_reads_this_machine_or_says_it_cannot():
    times = m.cpu_times()
    if Path("/proc/stat").exists():
        assert times is not None
        assert len(times) >= 8
    else:
        assert times is None
