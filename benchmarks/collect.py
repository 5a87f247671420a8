"""Append the agents-engine and sweep benchmark reports to ``benchmarks/results.md``.

``make bench`` runs ``run.py`` (cohort engines; writes results.md), ``agents_bench.py`` and
``sweep_bench.py`` (each writes its own report), then this script, so that every measured
number is in one file. Each appended section keeps its own header: its ratios were measured
within its own run.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Append agents_results.md and sweep_results.md to results.md."""
    results = HERE / "results.md"
    text = results.read_text(encoding="utf-8").rstrip() + "\n"
    for name, title in (
        ("agents_results.md", "Individual-level (agents) engine"),
        ("sweep_results.md", "Batch sweeps"),
    ):
        part = HERE / name
        if not part.exists():
            print(f"collect: {name} missing (its benchmark did not run)", file=sys.stderr)
            return 1
        body = part.read_text(encoding="utf-8").strip()
        body = "\n".join(
            ("#" + line) if line.startswith("#") else line for line in body.splitlines()
        )
        text += f"\n---\n\n## {title} (from `benchmarks/{name}`, its own run)\n\n{body}\n"
    results.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
