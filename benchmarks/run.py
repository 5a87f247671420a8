"""``make bench``: measure the engines against the performance goals; write ``results.md``.

Usage::

    .venv/bin/python benchmarks/run.py [--out benchmarks/results.md] [--simpy-reps 10] [--runs 5]

What is measured (all in one process, one after the other; see ``results.md`` for the
definitions printed next to the numbers):

1. **Expected engine**, six grades x two sexes x 30 years, rate mode and vacancy mode: time
   of ``simulator.run(compiled, engine="expected")`` — median over many repeats of a
   timeit loop, after warm-up.
2. **Stochastic engine**, 1,000 replications x 30 years of a 20,000-person force (rate mode;
   vacancy mode with ``women_odds = 1``): median of ≥ 3 timed runs of
   ``simulator.run(compiled, "stochastic", 1000, seed)``, against the **numpy floor**: the
   same numpy random calls the engine makes, replayed with no model logic in between. The
   calls are captured by running the engine once with a recording wrapper around each
   decision's ``numpy.random.Generator`` (method, arguments, keyword arguments, in order, per
   block of 100 replications); the replay rebuilds every (block, decision) Generator exactly as
   the engine does and calls the same methods with the same arguments. The replay is checked
   to reproduce the engine's variates bit for bit, and the number and shapes of the calls are
   checked against what ``simulator/engine.py`` implies for the scenario.
3. The same at 20 million persons (headcounts and establishments x 1000).
4. The **naive peer** (``benchmarks/simpy_naive.py``): a per-person SimPy model of the same
   20,000-person scenarios, a few replications; time per replication and the ratio to the
   cohort engine, plus a cross-check of the mean women's share at year 30.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import sys
import time
import timeit
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import simpy
from scipy import stats

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from simpy_naive import run_naive  # noqa: E402

import scenarios  # noqa: E402
import simulator  # noqa: E402
from simulator import compile_scenario, run  # noqa: E402
from simulator.compiled import MODE_VACANCY, Compiled  # noqa: E402
from simulator.engine import StochasticSampler, simulate  # noqa: E402
from simulator.rng import BLOCK_SIZE, blocks_for, decision_generator  # noqa: E402

SEED = 20250701
REPLICATIONS = 1000
EXPECTED_GOAL_S = 5e-3
FLOOR_GOAL = 2.0
SCALE_GOAL = 0.20
SIMPY_GOAL = 1000.0
CROSSCHECK_ALPHA = 0.01


# ---------------------------------------------------------------------------------------------
# Machine
# ---------------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    """Describe the machine and the software versions."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "CPU": cpu,
        "cores (os.cpu_count)": str(os.cpu_count()),
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "simpy": simpy.__version__,
        "parity": simulator.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(not set)"),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load_average() -> str:
    """1/5/15-minute load averages (other processes on the machine disturb timings)."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# ---------------------------------------------------------------------------------------------
# 1. Expected engine
# ---------------------------------------------------------------------------------------------
class Stopwatch:
    """CPU time of this process (the primary measure) and wall time, started on creation."""

    def __init__(self) -> None:
        self.cpu0, self.wall0 = time.process_time(), time.perf_counter()

    def read(self) -> tuple[float, float]:
        """(CPU seconds, wall seconds) since creation."""
        return time.process_time() - self.cpu0, time.perf_counter() - self.wall0


def time_call(fn, repeats: int = 15) -> tuple[float, float, int]:
    """Median (CPU, wall) seconds per call over ``repeats`` timeit loops, after warm-up.

    The loop size comes from ``timeit.Timer.autorange`` (≥ 0.2 s per loop).
    """
    for _ in range(3):
        fn()
    number, _ = timeit.Timer(fn, timer=time.process_time).autorange()
    cpu, wall = [], []
    for _ in range(repeats):
        watch = Stopwatch()
        for _ in range(number):
            fn()
        c, w = watch.read()
        cpu.append(c / number)
        wall.append(w / number)
    return statistics.median(cpu), statistics.median(wall), number


def bench_expected(mode: str) -> dict[str, Any]:
    """Time the expected engine on the 20,000-person scenario."""
    scn = scenarios.workforce(mode)
    c = compile_scenario(scn)
    cpu, wall, number = time_call(lambda: run(c, engine="expected"))
    compile_cpu, _, _ = time_call(lambda: compile_scenario(scn), repeats=5)
    return {
        "mode": mode,
        "seconds": cpu,
        "wall": wall,
        "loop": number,
        "compile_seconds": compile_cpu,
    }


# ---------------------------------------------------------------------------------------------
# 2-3. Stochastic engine and the numpy floor
# ---------------------------------------------------------------------------------------------
@dataclass
class Call:
    """One numpy random call made by the engine."""

    decision: str
    method: str
    args: tuple
    kwargs: dict
    result: np.ndarray


class _RecordingGenerator:
    """Wraps a Generator: forwards every method call and records it."""

    def __init__(self, gen: np.random.Generator, decision: str, log: list[Call]) -> None:
        self._gen, self._decision, self._log = gen, decision, log

    def __getattr__(self, method: str):
        fn = getattr(self._gen, method)

        def call(*args, **kwargs):
            saved = tuple(np.array(a, copy=True) for a in args)
            out = fn(*args, **kwargs)
            self._log.append(Call(self._decision, method, saved, kwargs, np.array(out, copy=True)))
            return out

        return call


class _RecordingSampler(StochasticSampler):
    """The engine's stochastic sampler, with every Generator wrapped for recording."""

    def __init__(self, seed: int, block: int, log: list[Call]) -> None:
        super().__init__(seed, block)
        self._log = log
        self._order: list[str] = []

    def gen(self, name: str):
        g = self._gens.get(name)
        if g is None:
            g = self._gens[name] = _RecordingGenerator(
                decision_generator(self.seed, self.block, name), name, self._log
            )
            self._order.append(name)
        return g


@dataclass
class Recording:
    """Every numpy random call of one stochastic run, per block, in order."""

    blocks: list[int]
    decisions: list[list[str]]  # per block: decisions in order of first use
    calls: list[list[Call]]  # per block
    stock: np.ndarray = field(repr=False)


def record_calls(c: Compiled, replications: int, seed: int) -> Recording:
    """Run the stochastic engine once with recording Generators."""
    blocks, decisions, calls, stocks = [], [], [], []
    for block in blocks_for(0, replications):
        log: list[Call] = []
        sampler = _RecordingSampler(seed, block, log)
        raw = simulate(c, sampler, BLOCK_SIZE)
        blocks.append(block)
        decisions.append(list(sampler._order))
        calls.append(log)
        stocks.append(raw.stock)
    stock = np.concatenate(stocks)[:replications]
    return Recording(blocks, decisions, calls, stock)


def expected_call_plan(c: Compiled) -> Counter:
    """Numpy calls per (block, year) that simulator/engine.py implies for a scenario.

    Keys are (method, shape of the first argument). Valid for the benchmark scenarios: replace
    recruitment, ``women_odds = 1`` and no floor in vacancy steps.
    """
    B, G, nk = BLOCK_SIZE, c.n_grades, c.K + 1
    plan: Counter = Counter()
    plan["multinomial", (B, nk)] += 2 * G  # one per (grade, sex), 3 outcomes per cell
    for h in range(G - 1, 0, -1):
        if c.mode[h] == MODE_VACANCY:
            plan["binomial", (B,)] += 2  # lateral hires, women among them
            plan["hypergeometric", (B,)] += 1  # women among internal promotions (ω = 1)
            eligible_buckets = nk - int(c.min_years_out[h - 1])
            plan["hypergeometric", (B,)] += 2 * (eligible_buckets - 1)  # who, by years in grade
    plan["binomial", (B,)] += 1  # women among the intake
    return plan


def check_recording(c: Compiled, rec: Recording) -> dict[str, Any]:
    """Check the recorded calls against :func:`expected_call_plan`; describe them."""
    plan = expected_call_plan(c)
    per_block_year = {k: v * c.n_years for k, v in plan.items()}
    for calls in rec.calls:
        seen = Counter((call.method, call.args[0].shape) for call in calls)
        if dict(seen) != per_block_year:
            raise AssertionError(
                f"engine's numpy calls differ from the plan read from engine.py: "
                f"recorded {dict(seen)}, expected {per_block_year}"
            )
    for calls in rec.calls:
        for call in calls:
            # pvals [1, K+1, 3]: one row of probabilities shared by the block's replications
            if call.method == "multinomial" and call.args[1].shape[-2:] != (c.K + 1, 3):
                raise AssertionError(f"multinomial pvals shape {call.args[1].shape}")
    n_calls = sum(len(x) for x in rec.calls)
    variates = sum(int(call.result.size) for calls in rec.calls for call in calls)
    n_gens = sum(len(d) for d in rec.decisions)
    return {
        "plan": plan,
        "calls": n_calls,
        "variates": variates,
        "generators": n_gens,
        "decisions_per_block": len(rec.decisions[0]),
        "inversion_share": inversion_share(rec),
    }


def inversion_share(rec: Recording) -> float:
    """Share of the binomial draws inside the recorded multinomials that take numpy's
    inversion path (``n · min(p, 1 - p) ≤ 30``; BTPE above), among non-trivial draws.

    ``multinomial(n, [a, p, s])`` draws ``L ~ Bin(n, a)`` then ``P ~ Bin(n - L, p / (1 - a))``
    (numpy's ``random_multinomial``); draws with n = 0 or p in {0, 1} return at once.
    """
    inversion = total = 0
    for calls in rec.calls:
        for call in calls:
            if call.method != "multinomial":
                continue
            n, pvals = call.args[0].astype(float), call.args[1]
            pvals = pvals.reshape(-1, pvals.shape[-2], 3)[0]  # [K+1, 3], shared by the block
            a = pvals[:, 0]
            with np.errstate(divide="ignore", invalid="ignore"):
                p2 = np.where(a < 1, pvals[:, 1] / (1 - a), 0.0)
            for trials, prob in ((n, a), (n - call.result[..., 0], p2)):
                q = np.minimum(prob, 1 - prob)
                real = (trials > 0) & (q > 0)
                total += int(real.sum())
                inversion += int((real & (trials * q <= 30)).sum())
    return inversion / total if total else float("nan")


def replay(c: Compiled, rec: Recording, seed: int, check: bool = False) -> tuple[float, float]:
    """Replay the recorded numpy calls; return CPU seconds (incl. Generator construction, draws).

    Generators are constructed exactly as the engine does (``decision_generator(seed, block,
    name)``, one per decision and block); the draws are the recorded calls, in order, with the
    recorded arguments. Nothing else happens inside the timed region. With ``check`` the
    results are compared with the engine's variates.
    """
    construct = draws = 0.0
    for block, names, calls in zip(rec.blocks, rec.decisions, rec.calls, strict=True):
        t0 = time.process_time()
        gens = {name: decision_generator(seed, block, name) for name in names}
        t1 = time.process_time()
        bound = [(getattr(gens[k.decision], k.method), k.args, k.kwargs) for k in calls]
        t2 = time.process_time()
        outs = [fn(*args, **kwargs) for fn, args, kwargs in bound]
        t3 = time.process_time()
        construct += t1 - t0
        draws += t3 - t2
        if check:
            for call, out in zip(calls, outs, strict=True):
                if not np.array_equal(call.result, out):
                    raise AssertionError(
                        f"replay of {call.decision}.{call.method} differs from the engine's draw"
                    )
    return construct + draws, draws


def bench_stochastic(mode: str, scales: tuple[int, ...], runs: int) -> list[dict[str, Any]]:
    """Time the stochastic engine and its numpy floor at each scale.

    Measurements are interleaved (engine and floor at each scale, then again), so that a
    change in machine load affects every quantity compared alike; medians of ``runs``.
    """
    cases = []
    for scale in scales:
        c = compile_scenario(scenarios.workforce(mode, scale))
        rec = record_calls(c, REPLICATIONS, SEED)
        info = check_recording(c, rec)
        run(c, "stochastic", replications=BLOCK_SIZE, seed=SEED)  # warm-up
        replay(c, rec, SEED, check=True)  # warm-up, and the bit-for-bit check
        cases.append(
            {"c": c, "rec": rec, "info": info, "cpu": [], "wall": [], "floor": [], "draws": []}
        )
    for _ in range(runs):
        for case in cases:
            watch = Stopwatch()
            case["result"] = run(case["c"], "stochastic", replications=REPLICATIONS, seed=SEED)
            cpu, wall = watch.read()
            case["cpu"].append(cpu)
            case["wall"].append(wall)
            total, draws = replay(case["c"], case["rec"], SEED)
            case["floor"].append(total)
            case["draws"].append(draws)
    out = []
    for scale, case in zip(scales, cases, strict=True):
        if not np.array_equal(case["result"].raw.stock, case["rec"].stock):
            raise AssertionError("recording perturbed the engine: stocks differ from run()")
        engine, floor, draws = (statistics.median(case[k]) for k in ("cpu", "floor", "draws"))
        out.append(
            {
                "mode": mode,
                "scale": scale,
                "persons": int(case["c"].initial.sum()),
                "engine": engine,
                "engine_runs": case["cpu"],
                "engine_wall": statistics.median(case["wall"]),
                "floor": floor,
                "floor_runs": case["floor"],
                "draws": draws,
                "ratio": engine / floor,
                "ratio_draws": engine / draws,
                "info": case["info"],
                "result": case["result"],
                "compiled": case["c"],
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# 4. The naive SimPy peer
# ---------------------------------------------------------------------------------------------
def bench_simpy(stoch: dict[str, Any], reps: int) -> dict[str, Any]:
    """Run the naive per-person model; compare time and women's share at the last year."""
    c: Compiled = stoch["compiled"]
    naive = run_naive(c, reps, SEED + 1)
    per_rep = float(np.median(naive.cpu_seconds))
    engine_per_rep = stoch["engine"] / REPLICATIONS
    checks = []
    for population in ("workforce", c.grade_ids[-1]):
        mask = c.populations[population]
        cohort = stoch["result"].share(population)[:, -1]
        peer = naive.share(mask)[:, -1]
        # Both are draws from the same law; the cohort engine's 1,000 replications estimate
        # the per-replication SD (the peer's few replications cannot).
        sd = float(cohort.std(ddof=1))
        se = sd * math.sqrt(1 / len(peer) + 1 / len(cohort))
        z = (float(peer.mean()) - float(cohort.mean())) / se
        checks.append(
            {
                "population": population,
                "cohort_mean": float(cohort.mean()),
                "cohort_sd": sd,
                "peer_mean": float(peer.mean()),
                "peer_values": peer.tolist(),
                "se": se,
                "z": z,
                "p": 2 * stats.norm.sf(abs(z)),
            }
        )
    return {
        "mode": stoch["mode"],
        "reps": reps,
        "seconds": naive.cpu_seconds.tolist(),
        "per_rep": per_rep,
        "per_rep_wall": float(np.median(naive.wall_seconds)),
        "engine_per_rep_wall": stoch["engine_wall"] / REPLICATIONS,
        "engine_per_rep": engine_per_rep,
        "ratio": per_rep / engine_per_rep,
        # The ratio an engine doing nothing but its numpy draws would reach (section 2's floor).
        "floor_per_rep": stoch["floor"] / REPLICATIONS,
        "ceiling": per_rep / (stoch["floor"] / REPLICATIONS),
        "checks": checks,
    }


# ---------------------------------------------------------------------------------------------
# Where the time goes
# ---------------------------------------------------------------------------------------------
class _TimingGenerator:
    """Wraps a Generator: accumulates the CPU time of every call per (decision kind, method)."""

    def __init__(self, gen: np.random.Generator, kind: str, totals: Counter) -> None:
        self._gen, self._kind, self._totals = gen, kind, totals

    def __getattr__(self, method: str):
        fn = getattr(self._gen, method)

        def call(*args, **kwargs):
            t0 = time.process_time()
            out = fn(*args, **kwargs)
            self._totals[f"{self._kind}: {method}"] += time.process_time() - t0
            return out

        return call


class _TimingSampler(StochasticSampler):
    """The engine's stochastic sampler with timed Generators (and timed construction)."""

    def __init__(self, seed: int, block: int, totals: Counter) -> None:
        super().__init__(seed, block)
        self._totals = totals

    def gen(self, name: str):
        g = self._gens.get(name)
        if g is None:
            t0 = time.process_time()
            raw = decision_generator(self.seed, self.block, name)
            self._totals["Generator construction"] += time.process_time() - t0
            g = self._gens[name] = _TimingGenerator(raw, name.split("/")[0], self._totals)
        return g


def breakdown_stochastic(c: Compiled) -> dict[str, Any]:
    """CPU time of one 1,000-replication run split into numpy random calls and the rest."""
    totals: Counter = Counter()
    watch = Stopwatch()
    for block in blocks_for(0, REPLICATIONS):
        simulate(c, _TimingSampler(SEED, block, totals), BLOCK_SIZE)
    total, _ = watch.read()
    random_s = sum(totals.values())
    return {"total": total, "random": random_s, "other": total - random_s, "parts": totals}


def profile_expected(mode: str, top: int = 8) -> list[tuple[str, int, float, float]]:
    """cProfile of the expected engine: (function, calls, own time share, cumulative share)."""
    import cProfile
    import pstats

    c = compile_scenario(scenarios.workforce(mode))
    run(c, engine="expected")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(50):
        run(c, engine="expected")
    prof.disable()
    st = pstats.Stats(prof)
    total = st.total_tt
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():
        where = f"{Path(file).name}:{line}({func})" if line else func
        rows.append((where, nc // 50, tt / total, ct / total))
    rows.sort(key=lambda r: -r[2])
    return rows[:top]


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def bench_posterior(repeats: int = 7) -> list[dict[str, Any]]:
    """Compiling a calibrated scenario's posterior draws, as each app lever change does (the
    draws are cached per scenario, and a lever makes a new one): together
    (``compile_batch``) against one by one (the path taken when the batch declines)."""
    import simulator.posterior as posterior

    rows = []
    for path in sorted((HERE.parent / "scenarios").glob("*_calibrated.toml")):
        s = simulator.load_scenario(path)

        def fresh(s=s) -> None:
            posterior.clear_cache()
            posterior.compile_draws(s)

        together = time_call(fresh, repeats)
        original = posterior.compile_batch
        posterior.compile_batch = lambda group, **_: None  # decline: one by one
        try:
            alone = time_call(fresh, repeats)
        finally:
            posterior.compile_batch = original
        posterior.clear_cache()
        rows.append(
            {
                "scenario": path.stem,
                "draws": len(s.posterior.draws),
                "paths": len(s.posterior.parameters),
                "grades": len(s.grades),
                "together": together,
                "alone": alone,
            }
        )
    return rows


def verdict(ok: bool) -> str:
    """PASS / FAIL."""
    return "PASS" if ok else "**FAIL**"


def ms(x: float) -> str:
    """Seconds as milliseconds."""
    return f"{x * 1e3:.2f} ms"


def write_report(path: Path, r: dict[str, Any]) -> str:
    """Write results.md from the measurements ``r``; return its text."""
    by = {(s["mode"], s["scale"]): s for s in r["stochastic"]}
    K = r["stochastic"][0]["compiled"].K
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`); every number below was measured in the "
        "same run, except the two sections marked \"its own run\" (copied from their own "
        "result files). Re-run to refresh; do not edit by hand.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in r["machine"].items()],
        f"| load average at start (1/5/15 min) | {r['loads'][0]} |",
        f"| load average at end | {r['loads'][1]} |",
        f"| total benchmark time (wall) | {r['total']:.0f} s |",
        "",
        "**Clock.** Times are **CPU time of the benchmark process** (`time.process_time`; all "
        "the code measured is single-threaded), the primary measure because the machine is "
        "shared: with a load average near or above the core count, wall times include time "
        "spent waiting for a core. Wall times are shown alongside for the headline numbers.",
        "",
        "## Workload",
        "",
        "`benchmarks/scenarios.py`: six grades x two sexes, 30 projection years (end-2024 stock "
        "to end-2054), attrition by completed years in grade (0-5, women's higher than men's, "
        "a retirement hump in the top grade), minimum years in grade 2/3/3/4/5 before "
        "promotion, `replace` recruitment into the entry grade (women's share of the intake "
        "30 % -> 40 %, 2025-2030). *Rate mode*: every promotion step by annual probability "
        "(0.20/0.12/0.10/0.08/0.07, both sexes). *Vacancy mode*: each grade's establishment = "
        "its initial headcount, vacancies filled top-down from the eligible, `women_odds = 1`, "
        "no floor, no lateral entry. 20,000 persons (7,000 / 5,000 / 3,800 / 2,400 / 1,300 / "
        f"500), or x1000 = 20 million with the same structure. K = {K} (tenure buckets "
        f"0-{K}). Seed {SEED}.",
        "",
        "## Results against the goals",
        "",
        "| # | measurement | measured (CPU) | wall | goal | result |",
        "|---|---|---|---|---|---|",
    ]
    for e in r["expected"]:
        lines.append(
            f"| 1 | expected engine, {e['mode']} mode: one 30-year run "
            f"(`run(compiled, 'expected')`) | {ms(e['seconds'])} | {ms(e['wall'])} | < 5 ms | "
            f"{verdict(e['seconds'] < EXPECTED_GOAL_S)} |"
        )
    for mode in ("rate", "vacancy"):
        s = by[mode, 1]
        lines.append(
            f"| 2 | stochastic engine, {mode} mode, 20,000 persons, 1,000 reps x 30 years: "
            f"engine / numpy floor | {s['engine']:.3f} s / {s['floor']:.3f} s = "
            f"**{s['ratio']:.2f}x** | {s['engine_wall']:.3f} s | ≤ 2x floor | "
            f"{verdict(s['ratio'] <= FLOOR_GOAL)} |"
        )
    for mode in ("rate", "vacancy"):
        big, small = by[mode, 1000], by[mode, 1]
        q = big["engine"] / small["engine"]
        lines.append(
            f"| 3 | stochastic engine, {mode} mode, 20 million persons: time(20M) / time(20k) | "
            f"{big['engine']:.3f} s / {small['engine']:.3f} s = **{q:.2f}** (engine / floor at "
            f"20M: {big['ratio']:.2f}x) | {big['engine_wall']:.3f} s | 0.80-1.20 | "
            f"{verdict(abs(q - 1) <= SCALE_GOAL)} |"
        )
    for mode in ("rate", "vacancy"):
        big, small = by[mode, 1000], by[mode, 1]
        q = big["ratio"] / small["ratio"]
        lines.append(
            f"| 3 (cost over the floor) | stochastic engine, {mode} mode: (engine / floor at 20M) "
            f"/ (engine / floor at 20k) | {big['ratio']:.2f}x / {small['ratio']:.2f}x = "
            f"**{q:.2f}** (floor 20M / 20k: {big['floor'] / small['floor']:.2f}) | | "
            f"0.80-1.20 | {verdict(abs(q - 1) <= SCALE_GOAL)} |"
        )
    for p in r["peer"]:
        lines.append(
            f"| 4 | naive SimPy peer, {p['mode']} mode, 20,000 persons: time per replication, "
            f"SimPy / cohort engine | {p['per_rep']:.3f} s / {ms(p['engine_per_rep'])} = "
            f"**{p['ratio']:,.0f}x** (ceiling, SimPy / numpy floor: {p['ceiling']:,.0f}x) | "
            f"{p['per_rep_wall']:.3f} s / "
            f"{ms(p['engine_per_rep_wall'])} | ≥ 1,000x | {verdict(p['ratio'] >= SIMPY_GOAL)} |"
        )
    lines += [
        "",
        '**Reading goal 3.** The issue asks for the 20-million time to be "the same within '
        "±20 %\" as the 20,000 time: the engine's cost must not grow with the headcount (it "
        "works on cells, not persons). Measured literally (the first pair of rows 3) the 20 M "
        "run can come out more than 20 % *faster*, because numpy's own samplers are: the "
        "floor itself (the same calls, same shapes, only the counts differ) is cheaper at 20 M "
        "(section 2-3, *Scale*). The second pair of rows 3 removes numpy's sampler cost: the "
        "engine's cost over its own draws at 20 M relative to 20,000.",
        "",
        "## 1. Expected engine",
        "",
        "`simulator.run(compiled, engine='expected')` (compiled once beforehand; the time "
        "includes building the `Result`): median over 15 repeats of a timeit loop (loop size "
        "from `Timer.autorange`, ≥ 0.2 s per loop), after 3 warm-up calls.",
        "",
        "| mode | per run (CPU) | per run (wall) | loop size | `compile_scenario` "
        "(not in the goal) |",
        "|---|---|---|---|---|",
    ]
    for e in r["expected"]:
        lines.append(
            f"| {e['mode']} | {ms(e['seconds'])} | {ms(e['wall'])} | {e['loop']} | "
            f"{ms(e['compile_seconds'])} |"
        )
    for mode, rows in r["expected_profile"].items():
        lines += [
            "",
            f"Where the time goes, expected engine, {mode} mode (cProfile over 50 runs; shares "
            "of the profiled time, which profiling inflates; calls per run):",
            "",
            "| function | calls per run | own time | incl. callees |",
            "|---|---|---|---|",
        ]
        for where, calls, own, cum in rows:
            lines.append(f"| `{where}` | {calls:,} | {own:.0%} | {cum:.0%} |")
    lines += [
        "",
        "## 2-3. Stochastic engine vs the numpy floor",
        "",
        "**Engine time**: `simulator.run(compiled, 'stochastic', replications=1000, seed)` "
        "(10 blocks of 100 replications, 30 years), median of the timed runs, after one "
        "warm-up run of 100 replications.",
        "",
        "**Floor**: the engine's own numpy random calls, replayed with no model logic in "
        "between. They are captured by running the engine once with each (block, decision) "
        "`Generator` wrapped by a recorder (method, argument arrays, order). The replay builds "
        "the same Generators as the engine (`SeedSequence(seed, spawn_key=(block, "
        "stable_id(decision)))` -> `PCG64`, one per decision and block) and calls the same "
        "methods with the same argument arrays: same distributions, shapes, parameter values "
        "and number of calls. Checked in this run: the replay reproduces the engine's variates "
        "bit for bit, and the calls per block and year are exactly those `simulator/engine.py` "
        "implies:",
        "",
        "- rate mode: 12 x `multinomial(n[100, K+1], pvals[K+1, 3])` (one per grade x sex; "
        "outcomes leave / promote / stay, one row per years-in-grade bucket) + 1 x "
        "`binomial(intake[100], women_share)`;",
        "- vacancy mode: the same 12 multinomials (promotion probability 0) + per vacancy grade "
        "(5, top-down) 2 x `binomial([100])` (lateral hires and women among them; "
        "`lateral_share = 0`), 1 x `hypergeometric([100])` (women among the internal "
        "promotions, ω = 1) and 2 x (eligible buckets - 1) x `hypergeometric([100])` (which "
        "years-in-grade buckets the promoted women and men come from) + 1 intake `binomial`.",
        "",
        "The primary floor includes constructing the Generators (the engine must build them); "
        "the draws-only floor is shown too. Ratio = engine / primary floor; runs are "
        "interleaved (engine and floor at 20,000, engine and floor at 20 million, again ...).",
        "",
        "| mode | persons | numpy calls | variates | Generators | engine runs (s) | floor runs "
        "(s) | draws only (s) | engine / floor | engine / draws only |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["stochastic"]:
        i = s["info"]
        lines.append(
            f"| {s['mode']} | {s['persons']:,} | {i['calls']:,} | {i['variates']:,} | "
            f"{i['generators']:,} | {', '.join(f'{x:.3f}' for x in s['engine_runs'])} | "
            f"{', '.join(f'{x:.3f}' for x in s['floor_runs'])} | {s['draws']:.3f} | "
            f"{s['ratio']:.2f} | {s['ratio_draws']:.2f} |"
        )
    lines += [
        "",
        "**Scale (goal 3).** The same calls with the same shapes are made at both sizes, but "
        "their cost is not the same: numpy's binomial (which `multinomial` calls per cell, "
        "for leave and then for promote among the rest) uses inversion, whose cost grows "
        "with n·p, when n·min(p, 1-p) ≤ 30 and BTPE (roughly constant cost) above; "
        "hypergeometric switches algorithm similarly. The last two columns give the share "
        "of the multinomials' non-trivial binomial draws on the inversion path.",
        "",
        "| mode | engine 20M / 20k | floor 20M / 20k | inversion share 20k | inversion share 20M |",
        "|---|---|---|---|---|",
    ]
    for mode in ("rate", "vacancy"):
        big, small = by[mode, 1000], by[mode, 1]
        lines.append(
            f"| {mode} | {big['engine'] / small['engine']:.2f} | "
            f"{big['floor'] / small['floor']:.2f} | "
            f"{small['info']['inversion_share']:.0%} | {big['info']['inversion_share']:.0%} |"
        )
    lines += [
        "",
        "**Where the time goes** (one extra instrumented run per case: CPU time inside each "
        "kind of numpy call, timed by a wrapper around each Generator; 'model logic' is "
        "everything else, including the wrapper's own overhead):",
        "",
        "| mode | persons | run total | numpy random | model logic | largest parts |",
        "|---|---|---|---|---|---|",
    ]
    for s in r["stochastic"]:
        b = s["breakdown"]
        parts = ", ".join(f"{k} {v:.3f} s" for k, v in b["parts"].most_common(4))
        lines.append(
            f"| {s['mode']} | {s['persons']:,} | {b['total']:.3f} s | {b['random']:.3f} s "
            f"({b['random'] / b['total']:.0%}) | {b['other']:.3f} s "
            f"({b['other'] / b['total']:.0%}) | {parts} |"
        )
    lines += [
        "",
        "## 4. Naive SimPy peer",
        "",
        "`benchmarks/simpy_naive.py`: one `Person` object per member of staff and one SimPy "
        "process (the annual cycle) looping over them: one uniform per person for leave / "
        "promote / stay (a vector of uniforms per year), vacancy promotions top-down by "
        "successive weighted sampling without replacement (`Generator.choice`), replace "
        "recruitment with a Bernoulli per recruit for sex, ageing. Parameters come from the "
        "same compiled scenario; randomness from one numpy `Generator` per replication. Time "
        "per replication includes building the person objects. Cohort engine time per "
        "replication = engine time for 1,000 replications / 1,000 (section 2).",
        "",
        "The last column is the ceiling of the ratio: SimPy time over the numpy floor of "
        "section 2 (the engine's own random draws and nothing else), i.e. the ratio an engine "
        "that drew the same variates with numpy at zero cost for its model logic would reach.",
        "",
        "| mode | SimPy replications (CPU s) | SimPy per replication (median) | cohort engine "
        "per replication | ratio | numpy floor per replication | ceiling: SimPy / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in r["peer"]:
        lines.append(
            f"| {p['mode']} | {', '.join(f'{x:.2f}' for x in p['seconds'])} | "
            f"{p['per_rep']:.3f} s | {ms(p['engine_per_rep'])} | {p['ratio']:,.0f}x | "
            f"{ms(p['floor_per_rep'])} | {p['ceiling']:,.0f}x |"
        )
    lines += [
        "",
        "**Cross-check** (women's share at end-2054): the peer's mean over its replications "
        "vs the cohort engine's mean over 1,000 replications. Both simulate the same law, so "
        "z = (peer mean - engine mean) / (sd x sqrt(1/R_peer + 1/1000)), sd = the engine's "
        "per-replication SD, is approximately N(0, 1); consistent if p > "
        f"α = {CROSSCHECK_ALPHA} (two-sided, per row). With few peer replications this is "
        "a coarse check; `tests/` holds the statistical engine tests.",
        "",
        "| mode | population | cohort engine mean (sd) | SimPy peer mean | z | p | consistent |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in r["peer"]:
        for ch in p["checks"]:
            lines.append(
                f"| {p['mode']} | {ch['population']} | {ch['cohort_mean']:.4f} "
                f"({ch['cohort_sd']:.4f}) | {ch['peer_mean']:.4f} | {ch['z']:+.2f} | "
                f"{ch['p']:.3f} | {'yes' if ch['p'] > CROSSCHECK_ALPHA else '**no**'} |"
            )
    lines += [
        "",
        "## 5. Posterior draws (a lever change on a calibrated scenario)",
        "",
        "`simulator.posterior.compile_draws` on each shipped calibrated scenario, its cache "
        "cleared before each call (an app lever change makes a new scenario, whose draws are "
        "compiled again): parsing and validating every draw, then compiling them together "
        "(`compile_batch`: one pass on arrays with a leading draw axis) against one by one "
        "(`compile_scenario` per draw, the path taken when the batch declines). Both give "
        "the same arrays (tests/test_compile_batch.py). Median CPU seconds per call.",
        "",
        "| scenario | draws | posterior paths | grades | together (CPU) | one by one (CPU) "
        "| one by one / together |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["posterior"]:
        lines.append(
            f"| {row['scenario']} | {row['draws']} | {row['paths']} | {row['grades']} | "
            f"{row['together'][0]:.3f} s | {row['alone'][0]:.3f} s | "
            f"{row['alone'][0] / row['together'][0]:.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--simpy-reps", type=int, default=10, help="SimPy replications per mode")
    parser.add_argument("--runs", type=int, default=5, help="timed stochastic runs (≥ 3)")
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    load_start = load_average()
    r: dict[str, Any] = {"machine": machine()}
    print("machine:", r["machine"], "load:", load_start, flush=True)

    r["expected"] = []
    for mode in ("rate", "vacancy"):
        e = bench_expected(mode)
        r["expected"].append(e)
        print(f"[1] expected {mode}: {ms(e['seconds'])} CPU per run", flush=True)
    r["expected_profile"] = {mode: profile_expected(mode) for mode in ("rate", "vacancy")}

    r["stochastic"] = []
    for mode in ("rate", "vacancy"):
        for s in bench_stochastic(mode, (1, 1000), max(3, args.runs)):
            s["breakdown"] = breakdown_stochastic(s["compiled"])
            r["stochastic"].append(s)
            print(
                f"[2/3] stochastic {mode} x{s['scale']}: engine {s['engine']:.3f} s, floor "
                f"{s['floor']:.3f} s (draws {s['draws']:.3f} s), ratio {s['ratio']:.2f}",
                flush=True,
            )

    r["peer"] = []
    for s in r["stochastic"]:
        if s["scale"] == 1:
            p = bench_simpy(s, args.simpy_reps)
            r["peer"].append(p)
            print(
                f"[4] SimPy {p['mode']}: {p['per_rep']:.3f} s/rep, ratio {p['ratio']:,.0f}x; "
                + "; ".join(f"{c['population']} z={c['z']:+.2f}" for c in p["checks"]),
                flush=True,
            )

    r["posterior"] = bench_posterior()
    for row in r["posterior"]:
        print(
            f"[5] draws of {row['scenario']}: together {row['together'][0]:.3f} s, one by one "
            f"{row['alone'][0]:.3f} s",
            flush=True,
        )

    r["total"] = time.perf_counter() - t_start
    r["loads"] = (load_start, load_average())
    text = write_report(args.out, r)
    print(text)
    print(f"wrote {args.out} in {r['total']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
