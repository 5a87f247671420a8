"""``parity calibrate`` and ``parity backtest``: the command-line face of calibration.

::

    parity calibrate PROBLEM [--out FILE] [--chart FILE] [--json] [--table FILE]
    parity backtest PROBLEM --cutoff YEAR [--json] [--out FILE] [--chart FILE]

``calibrate`` fits the problem (:mod:`calibration.fit`), writes the calibrated scenario (TOML:
the scenario with the point estimate applied, the problem's projection settings and a
``posterior`` block of equally weighted draws) to ``--out`` (default: the problem's
``projection.out``, else ``calibration/out/<problem>_calibrated.toml``), writes the fit chart
(SVG; default: next to the output, ``<out>.fit.svg``), and prints the fit table (published vs
fitted with intervals and sources), the parameter table and the warnings (``--json``: the same
as JSON). ``backtest`` fits on the observations up to ``--cutoff`` and reports every later one
against its posterior predictive interval.

:func:`add_subcommands` adds both to the ``parity`` parser and :func:`dispatch` runs them
(``None`` for any other command). Exit status: 0 done; 2 invalid input (field-level messages,
never a traceback); 1 internal error; 130 interrupted.

Run standalone (before or besides ``parity``): ``python -m calibration.cli calibrate ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from simulator.cli_common import check_output_file
from simulator.errors import ScenarioError

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130
COMMANDS = ("calibrate", "backtest")
ROOT = Path(__file__).resolve().parent.parent


def _year(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--cutoff must be a year (got {text!r})") from None
    if not 1900 <= value <= 2200:
        raise argparse.ArgumentTypeError(f"--cutoff must be between 1900 and 2200 (got {value})")
    return value


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``calibrate`` and ``backtest`` to a ``parity`` sub-parser set."""
    ca = subparsers.add_parser(
        "calibrate",
        help="fit a calibration problem; write the calibrated scenario with its posterior",
        description=(
            "Fit the free parameters of a calibration problem to its published figures "
            "(point estimate and posterior sample on the expected engine), write the "
            "calibrated scenario (TOML, with a posterior block) and a fit chart (SVG), and "
            "print the fit table."
        ),
    )
    ca.add_argument("problem", type=Path, help="calibration problem file (TOML)")
    ca.add_argument("--out", type=Path, default=None, help="calibrated scenario file to write")
    ca.add_argument("--chart", type=Path, default=None, help="fit chart (SVG) to write")
    ca.add_argument("--table", type=Path, default=None, help="also write the fit as JSON here")
    ca.add_argument("--json", action="store_true", help="print the fit as JSON")

    bt = subparsers.add_parser(
        "backtest",
        help="fit on observations up to a year; check the later ones against the prediction",
        description=(
            "Fit a calibration problem on its observations up to --cutoff and report every "
            "later observation: published vs fitted-from-earlier, the posterior predictive "
            "interval and whether it covers the published value."
        ),
    )
    bt.add_argument("problem", type=Path, help="calibration problem file (TOML)")
    bt.add_argument("--cutoff", type=_year, required=True, help="last year used in the fit")
    bt.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    bt.add_argument("--chart", type=Path, default=None, help="write a fit chart (SVG) here")
    bt.add_argument("--json", action="store_true", help="print the result as JSON")


def dispatch(args: argparse.Namespace) -> int | None:
    """Run ``calibrate`` or ``backtest``; ``None`` if ``args.command`` is another command."""
    command = getattr(args, "command", None)
    if command not in COMMANDS:
        return None
    if command == "calibrate":
        return cmd_calibrate(args)
    return cmd_backtest(args)


# --------------------------------------------------------------------------------------------
def _relative(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), start.resolve())
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)


def problem_inputs(problem: Any) -> list[Path]:
    """The files a calibration reads besides the problem: its scenario and ``targets_from``."""
    out = [problem.scenario_path]
    targets_from = problem.spec.projection.targets_from
    if targets_from is not None and problem.path is not None:
        out.append((problem.path.parent / targets_from).resolve())
    return out


def _default_out(problem: Any) -> Path:
    spec_out = problem.spec.projection.out
    if spec_out is not None and problem.path is not None:
        return (problem.path.parent / spec_out).resolve()
    stem = problem.path.stem if problem.path is not None else "problem"
    return ROOT / "calibration" / "out" / f"{stem}_calibrated.toml"


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit, write the calibrated scenario and the chart, print the fit table."""
    from calibration.chart import write_fit_svg
    from calibration.fit import calibrated_scenario_data, check_posterior_draws, write_scenario
    from calibration.problem import load_problem

    problem = load_problem(args.problem)
    out = args.out or _default_out(problem)
    chart = args.chart or out.with_suffix(".fit.svg")
    inputs = [Path(args.problem), *problem_inputs(problem)]
    for option, path in (("--out", out), ("--chart", chart), ("--table", args.table)):
        check_output_file(option, path, inputs)  # before the fit: nothing is lost
    fit = fit_problem_with_progress(problem)
    problem_ref = _relative(args.problem, out.parent)
    data = calibrated_scenario_data(fit, problem_ref=problem_ref)
    issues = check_posterior_draws(data)
    if issues:
        raise ScenarioError(issues, f"calibrated scenario of {args.problem}")
    _check_with_engine(data)
    header = _header(fit, args)
    write_scenario(data, out, header)
    write_fit_svg(fit, chart)
    result = fit.to_dict() | {"scenario_file": str(out), "chart_file": str(chart)}
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
    else:
        print(format_fit(fit))
        print(
            f"\nwrote {out} (posterior: {len(fit.draws)} draws of "
            f"{len(data['posterior']['parameters'])} paths) and {chart}"
        )
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    """Fit up to the cut-off and report the held-out observations."""
    from calibration.chart import write_fit_svg
    from calibration.problem import load_problem

    problem = load_problem(args.problem)
    inputs = [Path(args.problem), *problem_inputs(problem)]
    for option, path in (("--out", args.out), ("--chart", args.chart)):
        check_output_file(option, path, inputs)  # before the fit: nothing is lost
    fit = backtest_with_progress(problem, args.cutoff)
    result = backtest_summary(fit, args.cutoff)
    if args.chart is not None:
        write_fit_svg(fit, args.chart, title=f"{problem.name}: back-test, fit up to {args.cutoff}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
    else:
        print(format_backtest(fit, args.cutoff, result))
    return EXIT_OK


def _check_with_engine(data: dict[str, Any]) -> None:
    """Compile every draw as ``parity run`` will (``data`` is left unchanged: parsing does not
    change its input, tested in tests/test_posterior.py)."""
    from simulator.posterior import compile_draws
    from simulator.scenario import parse_scenario

    compile_draws(parse_scenario(data, source="calibrated scenario"))


def fit_problem_with_progress(problem: Any) -> Any:
    """Fit with a progress bar on stderr (disabled when stderr is not a terminal)."""
    from calibration.fit import fit_problem

    bar = _bar()
    try:
        return fit_problem(problem, progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()


def backtest_with_progress(problem: Any, cutoff: int) -> Any:
    """Back-test with a progress bar on stderr (disabled when stderr is not a terminal)."""
    from calibration.fit import backtest

    bar = _bar()
    try:
        return backtest(problem, cutoff, progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()


def _bar() -> Any:
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit="run", desc="model runs", file=sys.stderr, smoothing=0.1)


# --------------------------------------------------------------------------------------------
def _value(v: float, quantity: str) -> str:
    return f"{100 * v:.1f}%" if quantity == "women_share" else f"{v:,.0f}"


def _interval(iv: tuple[float, float], quantity: str) -> str:
    return f"{_value(iv[0], quantity)}–{_value(iv[1], quantity)}"


def source_text(problem: Any, observation_id: str) -> str:
    """The citation of an observation, resolving ``figure`` through calibration/data."""
    ob = next(o for o in problem.observations if o.id == observation_id)
    parts = []
    if ob.figure:
        try:
            from calibration.data import figure

            row = figure(ob.figure)
            parts.append(f"{ob.figure} ({row['source_document']}, {row['locator']})")
        except (ImportError, KeyError, ScenarioError):
            parts.append(ob.figure)
    elif ob.source:
        parts.append(ob.source + (f", {ob.locator}" if ob.locator else ""))
    return "; ".join(parts)


def format_fit(fit: Any) -> str:
    """The fit table, the parameter table and the warnings, as text."""
    lv = f"{fit.level:.0%}"
    lines = [
        f"{fit.problem.name}",
        f"{fit.evaluations} model runs in {fit.seconds:.1f} s; pooled Kish ESS "
        f"{fit.ess:.0f}; {len(fit.draws)} posterior draws",
        "",
        f"{'observation':24} {'year':>4} {'published':>10} {'fitted':>10} "
        f"{lv + ' fitted':>17} {lv + ' predictive':>17} {'r':>6}  source",
    ]
    for o in fit.observations:
        mark = "" if o.used else "  [held out]"
        lines.append(
            f"{o.id:24} {o.year:>4} {_value(o.observed, o.quantity):>10} "
            f"{_value(o.fitted, o.quantity):>10} {_interval(o.fitted_interval, o.quantity):>17} "
            f"{_interval(o.predictive_interval, o.quantity):>17} {o.residual:>6.2f}  "
            f"{source_text(fit.problem, o.id)}{mark}"
        )
    lines += [
        "",
        f"{'parameter':28} {'estimate':>9} {'post. mean':>10} {'post. sd':>9} "
        f"{lv + ' interval':>21} {'sd/prior sd':>11}  prior",
    ]
    for p in fit.parameters:
        lines.append(
            f"{p.name:28} {p.estimate:>9.4g} {p.posterior_mean:>10.4g} {p.posterior_sd:>9.3g} "
            f"{f'{p.interval[0]:.4g}–{p.interval[1]:.4g}':>21} {p.sd_ratio:>11.2f}  {p.prior}"
        )
    if fit.warnings:
        lines += ["", "warnings:"] + [f"  - {w}" for w in fit.warnings]
    return "\n".join(lines)


def backtest_summary(fit: Any, cutoff: int) -> dict[str, Any]:
    """JSON-ready back-test result: the fit and the held-out observations' errors."""
    held = [o for o in fit.observations if not o.used]
    rows = [
        {
            "id": o.id,
            "population": o.population,
            "year": o.year,
            "quantity": o.quantity,
            "published": o.observed,
            "predicted": o.fitted,
            "error": o.error,
            "predictive_interval": list(o.predictive_interval),
            "covered": o.covered,
            "standardised_error": o.residual,
            "source": source_text(fit.problem, o.id),
        }
        for o in held
    ]
    return {
        "problem": fit.problem.name,
        "cutoff": cutoff,
        "fitted_on": [o.id for o in fit.observations if o.used],
        "held_out": rows,
        "covered": sum(r["covered"] for r in rows),
        "held_out_count": len(rows),
        "level": fit.level,
        "fit": fit.to_dict(),
    }


def format_backtest(fit: Any, cutoff: int, result: dict[str, Any]) -> str:
    """The back-test report as text."""
    lv = f"{fit.level:.0%}"
    lines = [
        f"{fit.problem.name}: back-test, fitted on {len(result['fitted_on'])} observations up "
        f"to {cutoff}",
        "",
        f"{'held-out observation':24} {'year':>4} {'published':>10} {'predicted':>10} "
        f"{'error':>9} {lv + ' predictive':>17} {'covers':>6}",
    ]
    for o in fit.observations:
        if o.used:
            continue
        err = f"{100 * o.error:+.1f} pt" if o.quantity == "women_share" else f"{o.error:+,.0f}"
        lines.append(
            f"{o.id:24} {o.year:>4} {_value(o.observed, o.quantity):>10} "
            f"{_value(o.fitted, o.quantity):>10} {err:>9} "
            f"{_interval(o.predictive_interval, o.quantity):>17} "
            f"{'yes' if o.covered else 'NO':>6}"
        )
    lines.append("")
    lines.append(
        f"{result['covered']} of {result['held_out_count']} held-out observations inside their "
        f"{lv} posterior predictive interval"
    )
    if fit.warnings:
        lines += ["", "warnings of the fit:"] + [f"  - {w}" for w in fit.warnings]
    return "\n".join(lines)


def _header(fit: Any, args: argparse.Namespace) -> str:
    command = "parity calibrate " + " ".join(
        shlex.quote(str(a)) for a in [args.problem, *(["--out", args.out] if args.out else [])]
    )
    lines = [
        f"# Calibrated scenario written by `{command}`.",
        f"# Problem: {fit.problem.name}.",
        "# Do not edit by hand: change the problem file or its scenario and calibrate again.",
        f"# Fit: {fit.evaluations} expected-engine runs, pooled Kish ESS {fit.ess:.0f}, "
        f"{len(fit.draws)} posterior draws (seed {fit.seed}).",
        "# The values at the posterior block's paths are the point estimate (MAP):",
    ]
    for p in fit.parameters:
        lines.append(
            f"#   {p.name} = {p.estimate:.4g} ({fit.level:.0%} interval "
            f"{p.interval[0]:.4g}-{p.interval[1]:.4g}; prior {p.prior})"
        )
    for w in fit.warnings:
        lines.append(f"# Warning: {w}")
    return "\n".join(lines) + "\n\n"


# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m calibration.cli calibrate|backtest ...``."""
    parser = argparse.ArgumentParser(prog="parity")
    sub = parser.add_subparsers(dest="command", required=True)
    add_subcommands(sub)
    args = parser.parse_args(argv)
    try:
        status = dispatch(args)
    except ScenarioError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("PARITY_DEBUG"):
            raise
        print(
            f"parity: internal error: {type(exc).__name__}: {exc} (set PARITY_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return EXIT_INTERNAL if status is None else status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
