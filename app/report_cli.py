"""``parity report``: write the board report of a scenario as one offline HTML file.

::

    parity report FILE --out report.html [--reps N] [--seed S]

:func:`add_subcommands` adds the command to the ``parity`` parser and :func:`dispatch` runs
it (``None`` for any other command). Exit status: 0 written; 2 invalid input (the scenario
file, with every problem listed as ``path: message (got value)``); 1 another error.

Standalone: ``python -m app.report_cli report FILE --out report.html``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from simulator.cli_common import EXIT_OK, add_reps_seed, check_output_file, standalone_main
from simulator.errors import Issue, ScenarioError

COMMANDS = ("report",)


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to a ``parity`` sub-parser set."""

    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a scenario (opens offline)",
        description=(
            "Run a scenario and write a report for the board: targets, fan charts, headcount, "
            "assumptions and sources, in one HTML file that loads nothing from the network."
        ),
    )
    p.add_argument("file", type=Path, help="scenario file (TOML or JSON)")
    p.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    add_reps_seed(p)


def dispatch(args: argparse.Namespace) -> int | None:
    """Run ``report``; ``None`` if ``args.command`` is another command."""
    if getattr(args, "command", None) not in COMMANDS:
        return None
    return cmd_report(args)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report; raise :class:`ScenarioError` on an invalid scenario file."""
    from app.report import build_report
    from simulator import load_scenario

    check_output_file("--out", Path(args.out), [Path(args.file)])
    scenario = load_scenario(args.file)
    reps = args.reps if args.reps is not None else scenario.simulation.replications
    seed = args.seed if args.seed is not None else scenario.simulation.seed
    command = f"parity report {args.file} --out {args.out} --reps {reps} --seed {seed}"
    text = build_report(scenario, replications=reps, seed=seed, reproduce=command)
    out = Path(args.out)
    try:
        if out.parent and not out.parent.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        raise ScenarioError([Issue("--out", f"cannot write: {exc.strerror}", str(out))]) from None
    print(f"wrote {out} ({len(text.encode('utf-8')) // 1024} KiB; opens offline)", file=sys.stderr)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m app.report_cli report FILE --out report.html``."""
    return standalone_main(add_subcommands, dispatch, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
