"""The server's share of a lever change: engine run and tables of one Explore redraw.

For ``dk_police`` and ``dk_police_calibrated`` with the vacancy-odds lever at 3 (the first
value ``scripts/measure_app.py`` types), 500 replications and the seed Explore runs each with
(``app.state.seed_of``): the seconds of
``run_and_summarize`` (expected and stochastic engine, summary) and of
``app.components.run_tables`` (the tables the cards and charts use), best of 3 in this process,
and the time to load and validate every shipped scenario (Explore's list). The run reuses a
calibrated scenario's compiled posterior draws after its first call (they are cached), so
compiling them again, as a lever change does, is timed on its own. SciPy is imported
before timing (the app preloads it). Run from a repository root; to compare with an older
version, run it from an export of that version (``git archive REV | tar -x -C DIR``)::

    .venv/bin/python scripts/lever_cost.py
    (cd /tmp/old && /work/main/.venv/bin/python /work/main/scripts/lever_cost.py)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))  # the repository (or export) it is run from

import scipy.stats  # noqa: F401  (imported up front: not part of the timing)

import app.components as C
from app.state import seed_of
from simulator import loads_scenario, run_and_summarize

REPS = 500


def best(fn, n: int = 3):
    """(best seconds of ``n`` calls, the last result)."""
    out, fastest = None, float("inf")
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        fastest = min(fastest, time.perf_counter() - t)
    return fastest, out


def main() -> int:
    folder = Path("scenarios")
    files = sorted(folder.glob("*.toml"))
    t_load, _ = best(lambda: [loads_scenario(p.read_bytes(), "toml", p.name) for p in files])
    print(f"load and validate the {len(files)} shipped scenarios: {t_load:.3f} s")
    for name in ("dk_police", "dk_police_calibrated"):
        base = loads_scenario((folder / f"{name}.toml").read_bytes(), "toml", name)
        scenario = C.apply_what_if(base, vacancy_odds=3.0)
        seed = seed_of(base)
        t_run, (expected, stochastic, _) = best(
            lambda s=scenario, r=seed: run_and_summarize(s, "stochastic", REPS, r)
        )
        t_tab, _ = best(lambda e=expected, s=stochastic: C.run_tables(e, s))
        line = f"{name}, odds 3, {REPS} replications: run {t_run:.3f} s, tables {t_tab:.3f} s"
        if scenario.posterior is not None:  # the run above reused the compiled draws
            import simulator.posterior as posterior

            def fresh(s=scenario) -> None:
                posterior.clear_cache()
                posterior.compile_draws(s)

            t_draws, _ = best(fresh)
            line += f", compiling its {len(scenario.posterior.draws)} draws {t_draws:.3f} s"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
