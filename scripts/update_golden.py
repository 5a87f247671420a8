"""Write the golden summaries of the shipped scenarios to ``tests/golden/<scenario>.json``.

A golden summary is what ``tests/test_scenarios_and_docs.py`` compares a fresh run against:
for each ``scenarios/*.toml``, the target summaries of a stochastic run with a fixed seed and
:data:`GOLDEN_REPLICATIONS` replications (plus the expected engine, which every summary
includes), and the expected-engine share path of every target population. Floats are rounded
to :data:`SIGNIFICANT_DIGITS` significant digits, and magnitudes below :data:`FLOAT_RESIDUE`
are written as 0 (float residue such as a Wilson lower bound of 2e-19 for zero successes).

The test never writes golden files. Run this script, explicitly, only after an intended change
of a shipped scenario or of the engines, and review the diff of ``tests/golden/`` before
committing it::

    .venv/bin/python scripts/update_golden.py            # all shipped scenarios
    .venv/bin/python scripts/update_golden.py --check    # exit 1 if any golden file is stale
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
GOLDEN_DIR = ROOT / "tests" / "golden"

#: Replications of the golden stochastic run (modest: the test must stay fast).
GOLDEN_REPLICATIONS = 200
#: Root seed of the golden run (fixed here, independent of the scenario's own default seed).
GOLDEN_SEED = 20250701
#: Floats are compared after rounding to this many significant digits.
SIGNIFICANT_DIGITS = 12
#: Magnitudes below this are float residue and written as 0.
FLOAT_RESIDUE = 1e-12

#: Keys of a golden file that are informative only and not compared by the test.
PROVENANCE_KEY = "provenance"


def shipped_scenarios() -> list[Path]:
    """Return the shipped scenario files, sorted."""
    return sorted(SCENARIO_DIR.glob("*.toml"))


def golden_path(scenario: Path) -> Path:
    """Return the golden file of a scenario file (``tests/golden/<stem>.json``)."""
    return GOLDEN_DIR / f"{scenario.stem}.json"


def normalise(value: Any) -> Any:
    """Round every float to :data:`SIGNIFICANT_DIGITS` digits, recursively (JSON-ready)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, int):
        return value
    x = float(value)  # also numpy scalars
    if not math.isfinite(x):
        return None
    if abs(x) < FLOAT_RESIDUE:
        return 0.0
    return float(f"{x:.{SIGNIFICANT_DIGITS}g}")


def golden_summary(scenario: Path) -> dict[str, Any]:
    """Run a scenario as the golden test does and return its normalised golden summary."""
    import numpy as np

    from simulator import __version__, load_scenario, run_and_summarize
    from simulator.scenario import scenario_fingerprint

    s = load_scenario(scenario)
    expected, _, summary = run_and_summarize(
        s, engine="stochastic", replications=GOLDEN_REPLICATIONS, seed=GOLDEN_SEED
    )
    populations = sorted({t.population for t in s.targets})
    paths = {pop: expected.share(pop)[0].tolist() for pop in populations}
    return normalise(
        {
            "scenario": s.name,
            "engine": summary["engine"],
            "replications": summary["replications"],
            "seed": summary["seed"],
            "start_year": summary["start_year"],
            "end_year": summary["end_year"],
            "targets": summary["targets"],
            "expected_share_paths": {
                "years": [int(y) for y in expected.years],
                **paths,
            },
            PROVENANCE_KEY: {
                "scenario_file": str(scenario.relative_to(ROOT)),
                "scenario_sha256": scenario_fingerprint(s),
                "parity_version": __version__,
                "numpy": np.__version__,
                "written_by": "scripts/update_golden.py",
            },
        }
    )


def comparable(golden: dict[str, Any]) -> dict[str, Any]:
    """Return a golden summary without its informative provenance."""
    return {k: v for k, v in golden.items() if k != PROVENANCE_KEY}


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the golden file of every shipped scenario."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if a golden file differs"
    )
    args = parser.parse_args(argv)
    stale = 0
    for scenario in shipped_scenarios():
        fresh = golden_summary(scenario)
        target = golden_path(scenario)
        old = json.loads(target.read_text()) if target.exists() else None
        same = old is not None and comparable(old) == comparable(fresh)
        if args.check:
            print(f"{'ok' if same else 'STALE'}: {target.relative_to(ROOT)}")
            stale += not same
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(fresh, indent=2, ensure_ascii=False) + "\n")
        status = "wrote" if not same else "unchanged" if old == fresh else "provenance refreshed"
        print(f"{status}: {target.relative_to(ROOT)}")
    return 1 if stale else 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
