"""What every ``parity`` subcommand module shares: argument types, exit codes, error handling.

A subcommand module (``simulator.sweep_cli``, ``simulator.decision_cli``, ``calibration.cli``,
``app.report_cli``) has ``add_subcommands(subparsers)`` and ``dispatch(args) -> int | None``;
:func:`standalone_main` runs one on its own (``python -m simulator.sweep_cli sweep ...``) with
the same error handling as ``parity`` itself (:func:`guarded`).

Exit status: 0 success, 1 an unexpected internal error (one line; ``PARITY_DEBUG=1`` shows the
traceback), 2 invalid input (every problem as ``path: message (got value)``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from simulator.errors import Issue, ScenarioError
from simulator.rng import SEED_LIMIT

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


def int_arg(name: str, lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: an integer from ``lo`` to ``hi``, with a message naming the option."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer (got {text!r})") from None
        if not lo <= value <= hi:
            top = f"2**{hi.bit_length()} - 1" if hi > 2**32 and (hi + 1) & hi == 0 else f"{hi}"
            raise argparse.ArgumentTypeError(f"{name} must be between {lo} and {top} (got {value})")
        return value

    return parse


SEED_MAX = SEED_LIMIT - 1  # SeedSequence entropy: any non-negative integer below 2**128


def add_reps_seed(
    p: argparse.ArgumentParser,
    reps_help: str = "replications (default: the scenario's simulation.replications)",
    seed_help: str = "root seed (default: the scenario's simulation.seed)",
    max_reps: int | None = None,
) -> None:
    """The ``--reps`` and ``--seed`` options every running command shares."""
    from simulator.scenario import MAX_REPLICATIONS

    hi = MAX_REPLICATIONS if max_reps is None else max_reps
    p.add_argument("--reps", type=int_arg("--reps", 1, hi), default=None, help=reps_help)
    p.add_argument("--seed", type=int_arg("--seed", 0, SEED_MAX), default=None, help=seed_help)


def _blocking_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` that is not a directory, if any."""
    for parent in path.absolute().parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_output_file(option: str, path: Path | None, inputs: Sequence[Path] = ()) -> None:
    """Refuse, before any work, an output file that could not be written or that is an input.

    Raises :class:`ScenarioError` naming the option and the path when the path is a
    directory, lies under an existing file, or is one of ``inputs`` (writing it would destroy
    the file the command reads).
    """
    if path is None:
        return
    issues = []
    if path.is_dir():
        issues.append(Issue(option, "is a directory; give a file name", str(path)))
    elif (blocker := _blocking_ancestor(path)) is not None:
        issues.append(Issue(option, f"{blocker} is a file, not a directory", str(path)))
    elif any(path.exists() and src.exists() and path.samefile(src) for src in inputs):
        msg = "is an input of this command: writing it would destroy that file"
        issues.append(Issue(option, msg, str(path)))
    if issues:
        raise ScenarioError(issues)


def check_output_dir(option: str, path: Path | None) -> None:
    """Refuse, before any work, an output directory that is a file or lies under one."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise ScenarioError([Issue(option, "is a file; give a directory", str(path))])
    if (blocker := _blocking_ancestor(path)) is not None:
        raise ScenarioError([Issue(option, f"{blocker} is a file, not a directory", str(path))])


def guarded(run: Callable[[], int | None]) -> int:
    """Run a command; turn every failure into a message and an exit status (never a traceback)."""
    try:
        status = run()
    except ScenarioError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the user never sees a traceback unless asked
        if os.environ.get("PARITY_DEBUG"):
            raise
        print(
            f"parity: internal error: {type(exc).__name__}: {exc} (set PARITY_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return EXIT_INTERNAL if status is None else status


def standalone_main(
    add_subcommands: Callable[[argparse._SubParsersAction], None],
    dispatch: Callable[[argparse.Namespace], int | None],
    argv: list[str] | None = None,
) -> int:
    """Parse ``argv`` for one subcommand module and run it under :func:`guarded`."""
    parser = argparse.ArgumentParser(prog="parity")
    sub = parser.add_subparsers(dest="command", required=True)
    add_subcommands(sub)
    args = parser.parse_args(argv)
    return guarded(lambda: dispatch(args))
