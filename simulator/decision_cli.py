"""``parity solve``, ``parity reach``, ``parity decompose``, ``parity compare``: decision support.

::

    parity solve FILE --target ID --lever LEVER [--probability P] [--reps N] [--seed S]
                 [--range LO HI] [--from-year Y] [--tol T] [--steady] [--uncertainty-seeds K]
                 [--json]
    parity reach FILE [--target ID] [--reps N] [--seed S] [--json]
    parity decompose FILE [--target ID | --population POP] [--year Y] [--json]
    parity compare A B [C ...] [--reps N] [--seed S] [--json]

The methods are stated in :mod:`simulator.decision`. :func:`add_subcommands` adds the four
commands to the ``parity`` parser and :func:`dispatch` runs them (``None`` for any other
command). Exit status: 0 done (an unreachable target is an answer, not an error); 2 invalid
input (every problem printed as ``field: message (got value)``); 1 an internal error.

Run standalone (before or besides ``parity``): ``python -m simulator.decision_cli solve ...``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from simulator.cli_common import EXIT_OK, add_reps_seed, int_arg, standalone_main
from simulator.errors import Issue, ScenarioError

COMMANDS = ("solve", "reach", "decompose", "compare")


def _float_arg(name: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number (got {text!r})") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{name} must be finite (got {text!r})")
        return value

    return parse


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``solve``, ``reach``, ``decompose`` and ``compare`` to a ``parity`` sub-parser set."""
    so = subparsers.add_parser(
        "solve",
        help="goal seek: the lever value that meets a target (in expectation or with a "
        "probability)",
        description=(
            "Find the lever value at which a target is met: in expectation (expected engine, "
            "Brent's method) or with a probability (stochastic engine, common random numbers, "
            "bisection). Levers: intake_women_share, promotion_floor:<grade>, "
            "women_odds:<grade>, women_attrition_multiplier[:<grade>], "
            "lateral_share:<grade>[:<women share>], lateral_women_share:<grade>, "
            "path=<parameter path> (needs --range)."
        ),
    )
    so.add_argument("file", type=Path, help="scenario file (TOML or JSON)")
    so.add_argument("--target", default=None, help="target id (default: the scenario's first)")
    so.add_argument("--lever", required=True, help="the lever (see above)")
    so.add_argument(
        "--probability",
        type=_float_arg("--probability"),
        default=None,
        help="meet the target with at least this probability (e.g. 0.8); default: in expectation",
    )
    add_reps_seed(so, "stochastic replications (default: the scenario's simulation.replications)")
    so.add_argument(
        "--range",
        nargs=2,
        type=_float_arg("--range"),
        default=None,
        metavar=("LO", "HI"),
        help="search range (default: the lever's range)",
    )
    so.add_argument(
        "--from-year",
        type=int,
        default=None,
        help="first year the lever's value applies (default: start_year + 1)",
    )
    so.add_argument(
        "--tol", type=_float_arg("--tol"), default=None, help="width of the final bracket"
    )
    so.add_argument(
        "--steady",
        action="store_true",
        help="in expectation at steady state instead of the deadline",
    )
    so.add_argument(
        "--uncertainty-seeds",
        type=int_arg("--uncertainty-seeds", 0, 50),
        default=4,
        help="with --probability: re-solve with this many independent seeds to "
        "measure the Monte Carlo uncertainty (default 4; 0 skips)",
    )
    so.add_argument("--json", action="store_true", help="print the result as JSON")

    re_ = subparsers.add_parser(
        "reach",
        help="reachability bound: the best share by the deadline if every controllable flow "
        "went to women",
    )
    re_.add_argument("file", type=Path, help="scenario file (TOML or JSON)")
    re_.add_argument("--target", default=None, help="target id (default: every target)")
    add_reps_seed(
        re_,
        "also run the best case on the stochastic engine with N replications",
        "root seed of --reps",
        max_reps=100_000,
    )
    re_.add_argument("--json", action="store_true", help="print the result as JSON")

    de = subparsers.add_parser(
        "decompose",
        help="Shapley decomposition of the projected change into inertia, recruitment, "
        "attrition and promotion",
    )
    de.add_argument("file", type=Path, help="scenario file (TOML or JSON)")
    de.add_argument("--target", default=None, help="target id (default: every target)")
    de.add_argument("--population", default=None, help="a population instead of a target")
    de.add_argument(
        "--year", type=int, default=None, help="year (default: the target's deadline, or end_year)"
    )
    de.add_argument("--json", action="store_true", help="print the result as JSON")

    co = subparsers.add_parser(
        "compare",
        help="targets of several scenarios side by side, paired differences (CRN) and the "
        "diff of their assumptions",
    )
    co.add_argument(
        "files",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="two or more scenario files; the first is the reference A",
    )
    add_reps_seed(co, "stochastic replications (default: the first scenario's)")
    co.add_argument("--json", action="store_true", help="print the result as JSON")


def dispatch(args: argparse.Namespace) -> int | None:
    """Run a decision command; ``None`` if ``args.command`` is another command."""
    command = getattr(args, "command", None)
    if command not in COMMANDS:
        return None
    return {
        "solve": cmd_solve,
        "reach": cmd_reach,
        "decompose": cmd_decompose,
        "compare": cmd_compare,
    }[command](args)


def _load(path: Path):
    from simulator.scenario import load_scenario

    return load_scenario(path)


def _dump(data: Any) -> None:
    print(json.dumps(_clean(data), indent=2, allow_nan=False, ensure_ascii=False))


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item") and not isinstance(x, str):  # numpy scalars
        return _clean(x.item())
    return x


def _pct(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "—"
    return "—" if not math.isfinite(x) else f"{100 * x:.2f}%"


# --------------------------------------------------------------------------------------------
def cmd_solve(args: argparse.Namespace) -> int:
    """Goal seek."""
    from simulator.decision import solve

    s = _load(args.file)
    lo, hi = args.range if args.range is not None else (None, None)
    r = solve(
        s,
        args.target,
        args.lever,
        probability=args.probability,
        replications=args.reps,
        seed=args.seed,
        lo=lo,
        hi=hi,
        tol=args.tol,
        from_year=args.from_year,
        horizon="steady" if args.steady else "deadline",
        uncertainty_seeds=args.uncertainty_seeds,
    )
    if args.json:
        _dump(r.to_dict())
        return EXIT_OK
    lines = [
        f"target {r.target}, lever {r.lever_label} (range {r.range[0]:g}–{r.range[1]:g}"
        + (f", from {r.from_year}" if r.from_year else "")
        + ")",
        f"method: {r.method}",
        f"status: {r.status}",
        f"answer: {r.why}",
    ]
    if r.bracket:
        lines.append(f"bracket: [{r.bracket[0]:.6g}, {r.bracket[1]:.6g}] (not met, met)")
    if r.probability is not None and r.status != "not_reachable":
        lo_ci, hi_ci = r.probability_ci
        lines.append(
            f"P(met) at the answer: {r.probability:.3f} [{lo_ci:.3f}, {hi_ci:.3f}] (Wilson 95 %)"
        )
    if r.expected_share is not None:
        lines.append(f"expected share at the answer: {_pct(r.expected_share)}")
    if r.uncertainty:
        u = r.uncertainty
        sd = "—" if u["sd"] is None else f"{u['sd']:.4g}"
        if u["sd"] == 0:
            sd = "0 (every seed gave the same bracket: below the tolerance)"
        lines.append(
            f"Monte Carlo uncertainty ({u['method']}): sd {sd}, range {u['min']:.6g}–{u['max']:.6g}"
        )
    if r.monotone_violations:
        lines.append(
            f"note: P(met) was not monotone at {r.monotone_violations} of the evaluated "
            "points (Monte Carlo noise between nearby lever values)"
        )
    print("\n".join(lines))
    return EXIT_OK


def cmd_reach(args: argparse.Namespace) -> int:
    """Reachability bound for one or every target."""
    from simulator.decision import get_target, reachability

    s = _load(args.file)
    ids = [get_target(s, args.target).id] if args.target else [t.id for t in s.targets]
    if not ids:
        raise ScenarioError([Issue("targets", "the scenario has no targets", None)])
    results = [reachability(s, tid, replications=args.reps, seed=args.seed) for tid in ids]
    if args.json:
        _dump([r.to_dict() for r in results])
        return EXIT_OK
    for r in results:
        t = get_target(s, r.target)
        word = "highest" if r.bound == "max" else "lowest"
        print(f"target {r.target}: {t.label or t.describe()}")
        print(
            f"  {word} achievable share of {r.population} in {r.deadline}: {_pct(r.value)} "
            f"({'reachable' if r.reachable else 'NOT reachable'}); baseline expected "
            f"{_pct(r.baseline_value)}"
        )
        print("  year   bound  baseline")
        for y, b, base in zip(r.years, r.path, r.baseline_path, strict=True):
            print(f"  {y}  {_pct(b):>7}  {_pct(base):>7}")
        if r.floor_short_years:
            for g, yrs in r.floor_short_years.items():
                print(
                    f"  eligible women too few to fill every vacancy in {g}: "
                    f"{yrs[0]}–{yrs[-1]} ({len(yrs)} years)"
                )
        if r.stochastic:
            st = r.stochastic
            print(
                f"  stochastic best case ({st['replications']} reps, seed {st['seed']}): "
                f"P(met) {st['probability']:.3f} [{st['probability_ci'][0]:.3f}, "
                f"{st['probability_ci'][1]:.3f}], median {_pct(st['median'])}, "
                f"range {_pct(st['min'])}–{_pct(st['max'])}"
            )
        print(f"  bound: {r.note}")
        print()
    return EXIT_OK


def cmd_decompose(args: argparse.Namespace) -> int:
    """Gap decomposition."""
    from simulator.decision import decompose

    s = _load(args.file)
    if args.population is not None:
        if args.target is not None:
            raise ScenarioError(
                [Issue("population", "give --target or --population, not both", args.population)]
            )
        results = [decompose(s, population=args.population, year=args.year)]
    elif args.target is not None or not s.targets:
        results = [decompose(s, args.target, year=args.year)]
    else:
        results = [decompose(s, t.id, year=args.year) for t in s.targets]
    if args.json:
        _dump([r.to_dict() for r in results])
        return EXIT_OK
    for r in results:
        print(
            f"{r.population}: {_pct(r.start_share)} in {r.start_year} → {_pct(r.end_share)} "
            f"in {r.year} (expected engine; gender-neutral counterpart: {_pct(r.neutral_share)})"
        )
        for row in r.table.itertuples():
            print(f"  {row.term:<30} {100 * row.change:+8.2f} pp")
        print()
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """Scenario comparison."""
    from simulator.decision import compare, format_diff

    if len(args.files) < 2:
        raise ScenarioError(
            [
                Issue(
                    "files",
                    "compare needs at least two scenario files",
                    [str(f) for f in args.files],
                )
            ]
        )
    scenarios = [_load(f) for f in args.files]
    labels = [f"{chr(65 + i)} ({f.name})" for i, f in enumerate(args.files)]
    c = compare(scenarios, replications=args.reps, seed=args.seed, labels=labels)
    if args.json:
        _dump(c.to_dict())
        return EXIT_OK
    print(f"{c.replications} replications, seed {c.seed} (common random numbers)")
    for label, f in zip(labels, args.files, strict=True):
        print(f"  {label}: {f}")
    print()
    print(f"{'target':<24} {'scenario':<22} {'expected':>9} {'P(met) [95% CI]':>24} {'median':>8}")
    for row in c.targets.to_dict(orient="records"):
        if row["status"] != "ok":
            print(f"{row['target']:<24} {row['scenario']:<22} {'not applicable':>9}")
            continue
        ci = (
            f"{row['probability']:.3f} [{row['probability_low']:.3f}–{row['probability_high']:.3f}]"
        )
        print(
            f"{row['target']:<24} {row['scenario']:<22} {_pct(row['expected_share']):>9} "
            f"{ci:>24} {_pct(row['median_share']):>8}"
        )
    if len(c.differences):
        print()
        print("paired differences B − A (share: paired normal 95 % CI; P(met): Newcombe paired)")
        for row in c.differences.to_dict(orient="records"):
            print(
                f"  {row['target']}: {row['b']} − {row['a']}: share "
                f"{100 * row['share_difference']:+.2f} pp [{100 * row['share_low']:+.2f}, "
                f"{100 * row['share_high']:+.2f}], P(met) {row['probability_difference']:+.3f} "
                f"[{row['probability_low']:+.3f}, {row['probability_high']:+.3f}]"
            )
    for label, diff in c.assumptions.items():
        print()
        print(f"assumptions {label} vs {c.names[0]}: {len(diff)} difference(s)")
        for line in format_diff(diff):
            print(f"  {line}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m simulator.decision_cli solve|reach|... ...``."""
    return standalone_main(add_subcommands, dispatch, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
