"""The ``parity`` command line.

Subcommands::

    parity validate FILE...                    check scenario files, report every problem
    parity run FILE [--engine E] [--reps N] [--seed S] [--out DIR] [--format csv|parquet] [--json]
    parity steady FILE                          steady state and years to each target
    parity sweep FILE --out DIR [--executor serial|process|dask] [--workers N] [--scheduler A]
    parity sensitivity FILE [--target ID] [--quantity probability|share]
    parity solve FILE --target ID --lever LEVER [--probability P]   goal seek
    parity reach FILE | parity decompose FILE | parity compare A B [C ...]
    parity calibrate PROBLEM [--out FILE] | parity backtest PROBLEM --cutoff YEAR
    parity report FILE --out report.html       self-contained HTML report for the board
    parity app                                  start the Streamlit app

``--engine`` is ``expected``, ``stochastic`` (default) or ``agents`` (persons on SimPy;
``--career-log FILE`` writes one row per person-event, CSV or Parquet by the suffix).

Exit status: 0 success, 2 invalid input (every problem is printed as
``path.in.file: message (got value)``), 1 an unexpected internal error (reported in one line;
``PARITY_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulator import __version__
from simulator.api import ENGINES, RANDOM_ENGINES, run_and_summarize
from simulator.cli_common import (
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    add_reps_seed,
    check_output_dir,
    check_output_file,
    guarded,
)
from simulator.errors import Issue, ScenarioError
from simulator.rng import BLOCK_SIZE
from simulator.scenario import Scenario, load_scenario, scenario_fingerprint


def git_commit() -> str | None:
    """Return the git commit of the installed source tree, or None."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH by design
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    parser = argparse.ArgumentParser(
        prog="parity",
        description="Personnel gender-balance target simulator.",
    )
    parser.add_argument("--version", action="version", version=f"parity {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check scenario files and report every problem")
    v.add_argument("files", nargs="+", type=Path)

    r = sub.add_parser("run", help="run a scenario and summarise its targets")
    r.add_argument("file", type=Path)
    r.add_argument("--engine", choices=ENGINES, default="stochastic")
    add_reps_seed(r)
    r.add_argument("--out", type=Path, default=None, help="directory for tables and manifest")
    r.add_argument("--format", choices=("csv", "parquet"), default="csv")
    r.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    r.add_argument(
        "--no-parameter-uncertainty",
        action="store_true",
        help="calibrated scenarios: run the point estimate only (Monte Carlo noise alone) "
        "instead of one posterior parameter set per replication",
    )
    r.add_argument(
        "--career-log",
        type=Path,
        default=None,
        help="agents engine: write the career log (one row per person-event) to this "
        ".csv or .parquet file",
    )

    st = sub.add_parser("steady", help="steady state and years to each target (expected engine)")
    st.add_argument("file", type=Path)
    st.add_argument("--json", action="store_true")

    for module in _extensions():
        module.add_subcommands(sub)
    sub.add_parser("app", help="start the Streamlit app on 127.0.0.1:8501")
    return parser


def _extensions() -> list:
    """Modules that add subcommands: each has ``add_subcommands(sub)`` and ``dispatch(args)``.

    The CLI is an edge like the app: it may call calibration and the report builder (which
    import nothing heavy until their command runs); the engines never do.
    """
    from app import report_cli
    from calibration import cli as calibration_cli
    from simulator import decision_cli, sweep_cli

    return [sweep_cli, decision_cli, calibration_cli, report_cli]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``parity`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return guarded(lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int | None:
    for module in _extensions():
        status = module.dispatch(args)
        if status is not None:
            return status
    if args.command == "validate":
        return cmd_validate(args.files)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "steady":
        return cmd_steady(args)
    if args.command == "app":
        return cmd_app()
    return None
    return EXIT_INTERNAL


def cmd_validate(files: list[Path]) -> int:
    """Validate each file; print ok or every problem."""
    status = EXIT_OK
    for f in files:
        try:
            s = load_scenario(f)
            from simulator.compiled import compile_scenario

            compile_scenario(s)
        except ScenarioError as exc:
            exc.source = str(f)
            print(exc.report(), file=sys.stderr)
            status = EXIT_INVALID
            continue
        print(
            f"ok: {f} — {s.name!r}: {len(s.grades)} grades, {s.start_year}–{s.end_year}, "
            f"{len(s.policies)} policies, {len(s.targets)} targets"
        )
    return status


def _progress_bar(total: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None, lambda: None
    bar = tqdm(
        total=total, unit="rep", desc="replications", file=sys.stderr, disable=None, leave=False
    )
    return bar.update, bar.close


def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario; print the target table (or JSON); write tables when --out is given."""
    if args.career_log is not None:
        if args.engine != "agents":
            raise ScenarioError(
                [Issue("--career-log", "needs --engine agents (persons have careers)", args.engine)]
            )
        if args.career_log.suffix.lower() not in (".csv", ".parquet"):
            raise ScenarioError(
                [Issue("--career-log", "the file must end in .csv or .parquet", args.career_log)]
            )
    check_output_dir("--out", args.out)
    check_output_file("--career-log", args.career_log, [args.file])
    s = load_scenario(args.file)
    reps = args.reps if args.reps is not None else s.simulation.replications
    started = datetime.now(UTC)
    update, close = (None, lambda: None)
    if (args.engine == "stochastic" and reps >= 2 * BLOCK_SIZE) or args.engine == "agents":
        update, close = _progress_bar(reps)
    try:
        expected, result, summary = run_and_summarize(
            s,
            engine=args.engine,
            replications=reps,
            seed=args.seed,
            progress=update,
            career_log=args.career_log is not None,
            parameter_uncertainty=not args.no_parameter_uncertainty,
        )
    finally:
        close()
    manifest = make_manifest(s, args, summary, started)
    if args.out is not None:
        write_outputs(
            args.out,
            args.format,
            expected,
            result if args.engine in RANDOM_ENGINES else None,
            summary,
            manifest,
        )
    if args.career_log is not None and result.career_log is not None:
        from simulator.agents import write_career_log

        args.career_log.parent.mkdir(parents=True, exist_ok=True)
        write_career_log(result.career_log, args.career_log)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
    else:
        print(format_summary(s, summary))
        if args.out is not None:
            print(f"\nwrote results to {args.out}/")
        if args.career_log is not None:
            print(f"wrote the career log to {args.career_log}")
    return EXIT_OK


def make_manifest(
    s: Scenario, args: argparse.Namespace, summary: dict[str, Any], started: datetime
) -> dict[str, Any]:
    """Provenance of a run: what was run, with what, when."""
    import numpy
    import pandas
    import scipy

    return {
        "scenario_file": str(args.file),
        "scenario_name": s.name,
        "scenario_sha256": scenario_fingerprint(s),
        "parity_version": __version__,
        "git_commit": git_commit(),
        "engine": summary["engine"],
        "replications": summary["replications"],
        "seed": summary["seed"],
        "replication_block_size": BLOCK_SIZE,
        "parameter_uncertainty": summary.get("parameter_uncertainty", False),
        "started_utc": started.isoformat(timespec="seconds"),
        "elapsed_seconds": summary["elapsed_seconds"],
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "command": ["parity", *getattr(args, "argv", sys.argv[1:])],
    }


def write_outputs(
    out: Path, fmt: str, expected, stochastic, summary: dict[str, Any], manifest: dict[str, Any]
) -> None:
    """Write tidy tables (CSV or Parquet), the summary and the manifest into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "expected_stocks": expected.stocks_frame(),
        "expected_shares": expected.shares_frame(),
    }
    if stochastic is not None:
        tables.update(
            stocks=stochastic.stocks_frame(),
            shares=stochastic.shares_frame(),
            quantiles=stochastic.quantiles_frame(),
            diagnostics=stochastic.diagnostics_frame(),
        )
    files = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        tmp.replace(path)
        files.append(path.name)
    manifest = {**manifest, "files": [*files, "summary.json"]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def format_summary(s: Scenario, summary: dict[str, Any]) -> str:
    """A readable target table."""
    lines = [
        f"{s.name} — {summary['engine']} engine"
        + (
            f", {summary['replications']} replications, seed {summary['seed']}"
            if summary["replications"]
            else ""
        ),
    ]
    lines.append(f"uncertainty: {summary['uncertainty']}")
    if not summary["targets"]:
        lines.append("(the scenario has no targets)")
        return "\n".join(lines)
    header = (
        f"{'target':<28} {'condition':<44} {'expected':>9} {'P(met) [95% CI]':>24} "
        f"{'median [5–95%]':>22} {'first met (median)':>18}"
    )
    lines += [header, "-" * len(header)]
    for t in summary["targets"]:
        tgt = next(x for x in s.targets if x.id == t["id"])
        prob = "—"
        if t["probability"] is not None:
            lo, hi = t["probability_ci"]
            prob = f"{_pct(t['probability'])} [{_pct(lo)}–{_pct(hi)}]"
        q = t["quantiles"]
        med = "—" if not q else f"{_pct(q['50'])} [{_pct(q['5'])}–{_pct(q['95'])}]"
        first = t["first_year_met"]["50"] if t["first_year_met"] else t["expected_first_year_met"]
        first_s = "never" if first is None else str(first)
        lines.append(
            f"{t['id'][:28]:<28} {tgt.describe()[:44]:<44} {_pct(t['expected_share']):>9} "
            f"{prob:>24} {med:>22} {first_s:>18}"
        )
    small = [
        t
        for t in summary["targets"]
        if t["women_needed"] is not None and (t["expected_headcount"] or 0) < 100
    ]
    for t in small:
        lines.append(
            f"note: {t['id']}: about {t['expected_headcount']:.0f} people at the deadline; "
            f"the target needs {t['women_needed']} "
            f"{'woman' if t['women_needed'] == 1 else 'women'} — "
            "small numbers move the share in big steps."
        )
    return "\n".join(lines)


def cmd_steady(args: argparse.Namespace) -> int:
    """Print the steady state and years to each target."""
    from simulator.analytics import steady_state, years_to_target

    s = load_scenario(args.file)
    ss = steady_state(s)
    ytt = {t.id: years_to_target(s, t) for t in s.targets}
    if args.json:
        out = {
            "method": ss["method"],
            "converged": ss["converged"],
            "share": ss["share"],
            "stock": {
                gid: {"women": float(ss["stock"][g, 0]), "men": float(ss["stock"][g, 1])}
                for g, gid in enumerate(s.grade_ids)
            },
            "years_to_target": ytt,
        }
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print(
        f"{s.name}: steady state under the {s.end_year} parameters ({ss['method']}"
        + ("" if ss["converged"] else ", NOT converged")
        + ")"
    )
    for g, gid in enumerate(s.grade_ids):
        w, m = ss["stock"][g]
        print(f"  {gid:<20} women {w:10.1f}  men {m:10.1f}  share {_pct(ss['share'][gid])}")
    for tid, r in ytt.items():
        when = (
            "not within 500 years"
            if r["first_year"] is None
            else f"{r['first_year']} ({r['years']:.2f} years)"
        )
        print(f"  target {tid}: first met {when}")
    return EXIT_OK


def cmd_app() -> int:
    """Start the Streamlit app (replaces this process)."""
    app = Path(__file__).resolve().parent.parent / "app" / "main.py"
    if not app.exists():
        raise ScenarioError(
            [Issue("app", "app/main.py not found next to the simulator package", str(app))]
        )
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        "8501",
        "--server.headless",
        "true",
    ]
    os.chdir(app.parent.parent)
    os.execv(sys.executable, cmd)  # noqa: S606 - fixed argv, no shell
    return EXIT_OK  # pragma: no cover


def _elapsed(t0: float) -> float:
    return time.perf_counter() - t0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
