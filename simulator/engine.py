"""The annual step of the model contract, for the expected and the stochastic engine.

State at the end of year y: ``n[b, g, s, k]`` — replication b (within a block), grade g,
sex s, k completed years in grade (K open-ended). One step (year y, parameters of year y):

1. **Leave or move.** Each cell is split by one multinomial draw into leavers (annual
   probability ``a[g,s,k]``), rate-mode promotions to g+1 (``p[g,s,k]``, zero below the
   minimum years in grade) and stayers: ``(L, P, S) ~ Multinomial(n, (a, p, 1 - a - p))``.
2. **Vacancy promotions, top grade first.** For each grade h in vacancy mode, from the top
   down: ``V = max(0, E[h] - headcount of h now)``; lateral hires ``L ~ Bin(V, ℓ)``, women
   among them ``~ Bin(L, ℓ_w)``; internal promotions ``N = min(V - L, eligible stayers of
   h-1)``; women among them by weighted selection without replacement with odds ω for a woman
   (Wallenius; hypergeometric when ω = 1); a floor f raises the women to
   ``min(eligible women, ceil(f N))`` ("fill_with_men") or additionally caps the men at
   ``floor(W (1 - f) / f)`` when eligible women are short ("leave_vacant"). Who is promoted
   within each sex is uniform over the eligible years-in-grade buckets (multivariate
   hypergeometric). Processing top-down lets a vacancy chain run down the ladder in one year.
3. **Recruitment** into grade 0: ``fixed`` intake I; ``replace`` ``I = max(0, E[0] - n_0)``;
   ``growth`` ``I = max(0, T_y - total)`` with ``T_y = T_{y-1} (1 + growth_rate)``.
   Posts are whole: establishments and the growth target are rounded to the nearest integer
   in both engines (a fixed intake that is fractional is floor(I) plus a Bernoulli draw).
   Women among the intake ``~ Bin(I, h_y)``.
4. **Ageing.** Stayers move k → min(k + 1, K); everyone who entered a grade this step starts
   at k = 0.

The **expected** engine runs exactly this step on expected values: every draw is replaced by
its mean (the Wallenius mean by Fog's approximation ``(1 - W/E_w) = (1 - M/E_m)^ω``), so in
rate mode it is the exact mean of the stochastic engine (the model is linear) and with
vacancies, floors or ``max(0, ·)`` it is the mean-field path. The **stochastic** engine draws
integers with streams keyed by (block, decision), see :mod:`simulator.rng`.

Flows recorded per (year, grade, sex): leavers, promoted_out, promoted_in (internal),
recruits, lateral_in, so that ``stock[y] = stock[y-1] - leavers - promoted_out + promoted_in
+ recruits + lateral_in`` holds exactly for every cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulator.compiled import (
    MODE_VACANCY,
    RECRUIT_CONSCRIPTION,
    RECRUIT_FIXED,
    RECRUIT_REPLACE,
    YEARLY_FIELDS,
    Compiled,
)
from simulator.pipeline import PipelineRun, raw_concat, raw_rows
from simulator.rng import BLOCK_SIZE, blocks_for, decision_generator

FLOWS = ("leavers", "promoted_out", "promoted_in", "recruits", "lateral_in")
DIAGNOSTICS = (
    "vacancies",
    "lateral_hires",
    "internal_promotions",
    "unfilled",
    "floor_required",
    "floor_binding",
    "floor_short",
)
SEX_NAMES = ("women", "men")


# ---------------------------------------------------------------------------------------------
# Samplers: the only difference between the engines.
# ---------------------------------------------------------------------------------------------
def wallenius_mean(
    n_draw: np.ndarray, pool_w: np.ndarray, pool_m: np.ndarray, odds: float
) -> np.ndarray:
    """Approximate mean number of women among ``n_draw`` drawn by weighted selection.

    Solves Fog's equation ``(1 - x/E_w) = (1 - (N - x)/E_m)^ω`` for x by bisection, on
    ``max(0, N - E_m) ≤ x ≤ min(N, E_w)``. Exact at ω = 1 (hypergeometric mean).
    """
    n_draw, pool_w, pool_m = np.broadcast_arrays(
        np.asarray(n_draw, float), np.asarray(pool_w, float), np.asarray(pool_m, float)
    )
    total = pool_w + pool_m
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.ndim(odds) > 0:  # one odds per replication: solve each row on its own
            odds = np.broadcast_to(np.asarray(odds, float), n_draw.shape)
            return np.array(
                [
                    wallenius_mean(n, w, m, float(o))
                    for n, w, m, o in zip(
                        n_draw.ravel(), pool_w.ravel(), pool_m.ravel(), odds.ravel(), strict=True
                    )
                ]
            ).reshape(n_draw.shape)
        if odds == 1.0:
            return np.where(total > 0, n_draw * pool_w / np.where(total > 0, total, 1), 0.0)
        if n_draw.size == 1:
            return np.full(
                n_draw.shape,
                _wallenius_mean_scalar(
                    float(n_draw.flat[0]), float(pool_w.flat[0]), float(pool_m.flat[0]), odds
                ),
            )
        lo = np.maximum(0.0, n_draw - pool_m)
        hi = np.minimum(n_draw, pool_w)
        safe_w = np.where(pool_w > 0, pool_w, 1.0)
        safe_m = np.where(pool_m > 0, pool_m, 1.0)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            f = (1 - mid / safe_w) - np.clip(1 - (n_draw - mid) / safe_m, 0, 1) ** odds
            lo = np.where(f > 0, mid, lo)
            hi = np.where(f > 0, hi, mid)
        return 0.5 * (lo + hi)


def wallenius_rvs(
    pool_w: np.ndarray, pool_m: np.ndarray, n_draw: np.ndarray, odds, gen: np.random.Generator
) -> np.ndarray:
    """Women among ``n_draw`` drawn from ``pool_w`` women and ``pool_m`` men (1-D arrays) with
    the women's relative odds ``odds`` (a number or one per element): Wallenius variates.

    The same variates, in the same order from the same ``gen``, as
    ``scipy.stats.nchypergeom_wallenius.rvs(pool_w + pool_m, pool_w, n_draw, odds,
    random_state=gen)`` (tested), which loops over the elements in Python and spends about
    four fifths of each variate's time in its wrappers: this calls SciPy's urn sampler (the
    BiasedUrn library it wraps) directly, about five times faster. If that private entry
    point is missing (another SciPy), it uses the public ``rvs``.
    """
    urn = _new_urn()
    if urn is None:
        from scipy import stats

        variates = stats.nchypergeom_wallenius.rvs(
            pool_w + pool_m, pool_w, n_draw, odds, random_state=gen
        )
        return np.atleast_1d(variates).astype(np.int64)  # (a scalar for one element)
    sample = urn.rvs_wallenius
    w = np.broadcast_to(np.asarray(odds, float), pool_w.shape)
    out = np.empty(pool_w.shape, np.int64)
    for i, (x, k, n, o) in enumerate(
        zip(pool_w.tolist(), (pool_w + pool_m).tolist(), n_draw.tolist(), w.tolist(), strict=True)
    ):
        out[i] = sample(n, x, k, o, 1, gen)[0]
    return out


def _new_urn():
    """A new SciPy ``_PyStochasticLib3`` urn (one per call, never shared between threads; it
    keeps a table for repeated parameters), or None when this SciPy has no such entry point.
    SciPy is imported when first needed: it is slow to import."""
    try:
        from scipy.stats._biasedurn import _PyStochasticLib3
    except ImportError:
        return None
    return _PyStochasticLib3() if hasattr(_PyStochasticLib3, "rvs_wallenius") else None


def _wallenius_mean_scalar(n_draw: float, pool_w: float, pool_m: float, odds: float) -> float:
    """Scalar version of :func:`wallenius_mean` (Brent's method; the expected engine's path)."""
    lo, hi = max(0.0, n_draw - pool_m), min(n_draw, pool_w)
    if hi - lo <= 1e-12:
        return lo
    if pool_w <= 0 or pool_m <= 0:
        return lo if pool_w <= 0 else hi

    def f(x: float) -> float:
        return (1 - x / pool_w) - max(0.0, 1 - (n_draw - x) / pool_m) ** odds

    f_lo, f_hi = f(lo), f(hi)
    if f_lo <= 0:
        return lo
    if f_hi >= 0:
        return hi
    from scipy import optimize  # imported when first needed: it is slow to import

    return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12))


class ExpectedSampler:
    """Replaces every draw by its expected value (float arithmetic)."""

    dtype = float

    def transitions(self, n: np.ndarray, probs: np.ndarray, names: list[list[str]]) -> np.ndarray:
        """Expected (leave, promote, stay) counts: ``n[..., None] * probs``."""
        return n[..., None] * probs

    def binomial(self, name: str, n: np.ndarray, p: float) -> np.ndarray:
        """Mean of Binomial(n, p)."""
        return n * p

    def integerize(self, name: str, x, size: int) -> np.ndarray:
        """A (possibly fractional) count as it is."""
        return np.broadcast_to(np.asarray(x, float), (size,)).copy()

    def count(self, x: np.ndarray) -> np.ndarray:
        """A count of posts (establishment, growth target), rounded as in the stochastic engine.

        Posts are whole, so both engines fill to the same integer count; this keeps the
        expected engine the exact stochastic mean in replace mode.
        """
        return np.rint(x)

    def ceil(self, x: np.ndarray) -> np.ndarray:
        """Fractional requirement as it is."""
        return x

    def floor(self, x: np.ndarray) -> np.ndarray:
        """Fractional cap as it is."""
        return x

    def select(self, name: str, n_draw, pool_w, pool_m, odds) -> np.ndarray:
        """Expected women among ``n_draw`` selected (Wallenius mean).

        Clipped to ``[max(0, N - E_m), min(N, E_w)]``, the bounds the exact mean lies in, so
        float residue never makes the men selected negative.
        """
        if np.ndim(odds) == 0 and np.size(n_draw) == 1:  # one path: plain float arithmetic
            n, w, m = float(n_draw.flat[0]), float(pool_w.flat[0]), float(pool_m.flat[0])
            if odds == 1.0:
                x = n * w / (w + m) if w + m > 0 else 0.0
            else:
                x = _wallenius_mean_scalar(n, w, m, float(odds))
            return np.full(np.shape(n_draw), min(max(x, n - m, 0.0), n, w))
        mean = wallenius_mean(n_draw, pool_w, pool_m, odds)
        return np.clip(mean, np.maximum(0.0, n_draw - pool_m), np.minimum(n_draw, pool_w))

    def split(self, name: str, d: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Spread ``d`` over the buckets in proportion to ``counts``.

        ``counts · min(1, d / total)``: taking everyone takes exactly the counts (no float
        residue left behind), and a bucket never gives more than it has.
        """
        total = counts.sum(-1)
        ratio = np.divide(d, total, out=np.zeros_like(total), where=total > 0)
        np.minimum(ratio, 1.0, out=ratio)
        return counts * ratio[..., None]


class StochasticSampler:
    """Integer draws; one Generator per (block, decision), created on first use."""

    dtype = np.int64

    def __init__(self, seed: int, block: int) -> None:
        self.seed = seed
        self.block = block
        self._gens: dict[str, np.random.Generator] = {}

    def gen(self, name: str) -> np.random.Generator:
        """Return the Generator of a decision in this block."""
        g = self._gens.get(name)
        if g is None:
            g = self._gens[name] = decision_generator(self.seed, self.block, name)
        return g

    def transitions(self, n: np.ndarray, probs: np.ndarray, names: list[list[str]]) -> np.ndarray:
        """One multinomial draw per cell, one stream per (grade, sex).

        ``probs[b, g, s, k, 3]`` with b = 1 (shared) or one row per replication.
        """
        B, G, S, nk = n.shape
        out = np.empty((B, G, S, nk, 3), dtype=np.int64)
        for g in range(G):
            for s in range(S):
                out[:, g, s] = self.gen(names[g][s]).multinomial(n[:, g, s], probs[:, g, s])
        return out

    def binomial(self, name: str, n: np.ndarray, p: float) -> np.ndarray:
        """Binomial(n, p) draws."""
        return self.gen(name).binomial(n, p)

    def integerize(self, name: str, x, size: int) -> np.ndarray:
        """floor(x) plus a Bernoulli(frac(x)) draw, so the mean is exactly x."""
        base = np.floor(x)
        extra = self.gen(name).random(size) < (x - base)
        return (base + extra).astype(np.int64)

    def count(self, x: np.ndarray) -> np.ndarray:
        """A target count rounded to the nearest integer."""
        return np.rint(x).astype(np.int64)

    def ceil(self, x: np.ndarray) -> np.ndarray:
        """Smallest integer ≥ x (robust to float noise)."""
        return np.ceil(np.asarray(x) - 1e-9).astype(np.int64)

    def floor(self, x: np.ndarray) -> np.ndarray:
        """Largest integer ≤ x (robust to float noise)."""
        return np.floor(np.asarray(x) + 1e-9).astype(np.int64)

    def select(self, name: str, n_draw, pool_w, pool_m, odds) -> np.ndarray:
        """Women among ``n_draw`` selected without replacement with odds ω (Wallenius).

        ``odds`` is a number, or one per replication.
        """
        gen = self.gen(name)
        n_draw = np.asarray(n_draw, np.int64)
        pool_w = np.asarray(pool_w, np.int64)
        pool_m = np.asarray(pool_m, np.int64)
        if np.ndim(odds) == 0 and odds == 1.0:
            return gen.hypergeometric(pool_w, pool_m, n_draw)
        lo = np.maximum(0, n_draw - pool_m)
        hi = np.minimum(n_draw, pool_w)
        out = lo.copy()
        free = hi > lo
        if free.any():
            w = odds if np.ndim(odds) == 0 else np.broadcast_to(odds, n_draw.shape)[free]
            out[free] = wallenius_rvs(pool_w[free], pool_m[free], n_draw[free], w, gen)
        return out

    def split(self, name: str, d: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Draw ``d`` persons without replacement from the buckets (multivariate hypergeometric)."""
        gen = self.gen(name)
        out = np.zeros_like(counts)
        remaining = d.astype(np.int64).copy()
        rest = counts.sum(-1)
        for j in range(counts.shape[-1] - 1):
            col = counts[..., j]
            rest = rest - col
            take = gen.hypergeometric(col, rest, np.minimum(remaining, col + rest))
            out[..., j] = take
            remaining = remaining - take
        out[..., -1] = remaining
        return out


# ---------------------------------------------------------------------------------------------
# Parameters of a batch: the compiled arrays, optionally one parameter set per replication.
# ---------------------------------------------------------------------------------------------
#: Compiled arrays that may differ between replications (a posterior sample); the others
#: (grades, modes, minimum years, K) are the scenario's structure and never do.
PARAMETER_FIELDS = (*YEARLY_FIELDS, "initial", "deployment_odds")


@dataclass(frozen=True)
class Params:
    """The per-year parameters of a batch, each with a leading replication axis.

    The axis has length 1 (every replication runs the same parameters: broadcast) or B (one
    parameter set per replication, e.g. draws from a calibration posterior). Shapes as in
    :class:`~simulator.compiled.Compiled` with that axis in front: ``attrition[b, Y, G, 2, K+1]``,
    ``women_odds[b, Y, G]``, ``intake[b, Y]``, ``initial[b, G, 2, K+1]``.
    """

    attrition: np.ndarray
    promote_out: np.ndarray
    women_odds: np.ndarray
    women_floor: np.ndarray
    lateral_share: np.ndarray
    lateral_women_share: np.ndarray
    establishment: np.ndarray
    intake: np.ndarray
    women_share: np.ndarray
    growth_rate: np.ndarray
    initial: np.ndarray
    deployment_odds: np.ndarray  # [b, P, Y+1] (Compiled.deployment_odds)

    @classmethod
    def of(cls, c: Compiled) -> Params:
        """The compiled scenario's own parameters, for every replication."""
        return cls(**{f: getattr(c, f)[None] for f in PARAMETER_FIELDS})

    @classmethod
    def stack(cls, draws: list[Compiled]) -> Params:
        """All parameter sets, stacked on the leading axis (``draws[i]`` is row i)."""
        return cls(**{f: np.stack([getattr(d, f) for d in draws]) for f in PARAMETER_FIELDS})

    def take(self, index: np.ndarray) -> Params:
        """Replication b runs parameter set ``index[b]`` of a stacked :class:`Params`."""
        return Params(**{f: getattr(self, f)[index] for f in PARAMETER_FIELDS})


def _one(x: np.ndarray) -> np.ndarray | float:
    """A per-replication parameter as a float when it is the same for all (fast paths)."""
    return float(x.flat[0]) if x.size == 1 else x


# ---------------------------------------------------------------------------------------------
# The step, run over all years for one batch of replications.
# ---------------------------------------------------------------------------------------------
@dataclass
class Raw:
    """Arrays produced by a run. ``B`` = replications.

    Attributes
    ----------
    stock
        ``[B, Y+1, G, 2]`` headcount at each year-end (index 0 = start year).
    flows
        ``[B, Y, G, 2, 5]`` flows of each projection year, in :data:`FLOWS` order.
    diagnostics
        ``[B, Y, G, 7]`` vacancy-mode diagnostics in :data:`DIAGNOSTICS` order.
    final
        ``[B, G, 2, K+1]`` state (with years in grade) at the last year-end.
    draw
        ``[B]`` index of the posterior parameter set each replication ran (``None``: the
        scenario's own parameters).
    funnel, funnel_places
        ``[B, Y, stage, 2]`` conscription funnel by stage and sex, ``[B, Y, 2]`` places and
        unfilled places (``None`` without ``[conscription]``; :mod:`simulator.pipeline`).
    deployments, deployment_diagnostics
        ``[B, Y+1, pool, 2]`` deployed at each year-end by pool and sex, ``[B, Y+1, pool, 4]``
        demand, unmet demand, floor binding, floor short (``None`` without pools).
    """

    stock: np.ndarray
    flows: np.ndarray
    diagnostics: np.ndarray
    final: np.ndarray
    draw: np.ndarray | None = None
    funnel: np.ndarray | None = None
    funnel_places: np.ndarray | None = None
    deployments: np.ndarray | None = None
    deployment_diagnostics: np.ndarray | None = None


def _pairwise_sum(a: list[float]) -> float:
    """Sum floats in the order numpy's ``add.reduce`` uses for a contiguous float64 array.

    numpy's pairwise summation: below 8 values a plain loop; up to 128 eight partial sums
    combined as ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`` plus the remainder;
    above, the halves recursively. Matching it keeps :class:`_ScalarVacancy` bit-identical
    to the array path.
    """
    n = len(a)
    if n < 8:
        res = 0.0
        for x in a:
            res += x
        return res
    if n <= 128:
        r = a[:8]
        i = 8
        while i + 8 <= n:
            for j in range(8):
                r[j] += a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for x in a[i:]:
            res += x
        return res
    half = n // 2
    half -= half % 8
    return _pairwise_sum(a[:half]) + _pairwise_sum(a[half:])


class _ScalarVacancy:
    """Step 2 (vacancy promotions) of one expected path, in plain Python floats.

    The arithmetic is that of the array path with :class:`ExpectedSampler` (same operations,
    in the same order), without numpy's per-call cost on one-element arrays: the expected
    engine runs one path, so a year's vacancy chain is a few hundred scalar operations on
    nested lists, converted from and back to the arrays once per year.
    ``tests/test_engine_paths.py`` checks the two paths agree on every shipped scenario and on
    generated ones.
    """

    def __init__(self, c: Compiled, P: Params, grades: list[int]) -> None:
        self.grades = grades  # vacancy-mode grades, top down
        self.posts = np.rint(P.establishment[0]).tolist()  # [Y][G]
        self.lateral = P.lateral_share[0].tolist()
        self.lateral_women = P.lateral_women_share[0].tolist()
        self.odds = P.women_odds[0].tolist()
        self.floor = P.women_floor[0].tolist()
        self.min_years = c.min_years_out.tolist()
        self.leave_vacant = c.leave_vacant.tolist()

    def year(self, t: int, stay, promoted_out, promoted_in, lateral_in, diag_t) -> None:
        """Fill the vacancies of year t top-down; update one path's arrays in place.

        ``stay[G, 2, K+1]``, ``promoted_out``/``promoted_in``/``lateral_in`` ``[G, 2]``,
        ``diag_t[G, 7]``.
        """
        S = stay.tolist()
        out = promoted_out.tolist()
        into = promoted_in.tolist()
        lateral_in_ = lateral_in.tolist()
        diag = diag_t.tolist()
        for h in self.grades:
            vac = max(0.0, self.posts[t][h] - _pairwise_sum(S[h][0] + S[h][1]))
            lat = vac * self.lateral[t][h]
            lat_w = lat * self.lateral_women[t][h]
            m = self.min_years[h - 1]
            below = S[h - 1]
            pool_w, pool_m = below[0][m:], below[1][m:]
            e_w, e_m = _pairwise_sum(pool_w), _pairwise_sum(pool_m)
            n_int = min(vac - lat, e_w + e_m)
            odds = self.odds[t][h]
            if odds == 1.0:
                x = n_int * e_w / (e_w + e_m) if e_w + e_m > 0 else 0.0
            else:
                x = _wallenius_mean_scalar(n_int, e_w, e_m, odds)
            women = min(max(x, n_int - e_m, 0.0), n_int, e_w)
            men = n_int - women
            required, binding, short = 0.0, False, False
            f = self.floor[t][h]
            if f > 0:
                required = f * n_int
                raised = max(women, min(e_w, required))
                binding = raised > women + 1e-9
                short = e_w < required - 1e-9
                women = raised
                men = n_int - women
                if self.leave_vacant[h] and short:
                    men = min(men, min(women * (1 - f) / f, n_int))
            for sex, d, pool, total in ((0, women, pool_w, e_w), (1, men, pool_m, e_m)):
                ratio = min(d / total, 1.0) if total > 0 else 0.0
                below[sex][m:] = [count - count * ratio for count in pool]
            out[h - 1][0] += women
            out[h - 1][1] += men
            into[h][0] += women
            into[h][1] += men
            lateral_in_[h] = [lat_w, lat - lat_w]
            filled = women + men
            diag[h] = [vac, lat, filled, vac - lat - filled, required, binding, short]
        stay[...] = S
        promoted_out[...] = out
        promoted_in[...] = into
        lateral_in[...] = lateral_in_
        diag_t[...] = diag


def simulate(c: Compiled, sampler, batch: int, params: Params | None = None) -> Raw:
    """Advance ``batch`` replications through every projection year of ``c``.

    ``params`` (default: the compiled scenario's own) may hold one parameter set per
    replication; the structure (grades, modes, minimum years in grade) is always ``c``'s.
    """
    Y, G, K = c.n_years, c.n_grades, c.K
    P = Params.of(c) if params is None else params
    dt = sampler.dtype
    n = np.broadcast_to(P.initial.astype(dt), (batch, *c.initial.shape)).copy()
    stock = np.zeros((batch, Y + 1, G, 2), dtype=dt)
    flows = np.zeros((batch, Y, G, 2, len(FLOWS)), dtype=dt)
    diag = np.zeros((batch, Y, G, len(DIAGNOSTICS)), dtype=float)
    stock[:, 0] = n.sum(-1)
    names = [[f"transition/{gid}/{sx}" for sx in SEX_NAMES] for gid in c.grade_ids]
    growth_target = P.initial.sum((1, 2, 3)).astype(float)  # [b]
    vacancy_grades = [h for h in range(G - 1, 0, -1) if c.mode[h] == MODE_VACANCY]
    pipe = PipelineRun(c, sampler, batch, n, P.deployment_odds)  # funnel and deployment pools
    clamp = [] if c.K_grade is None else [g for g in range(G) if c.K_grade[g] < K]
    # Loop invariants of the vacancy step (names of its decisions; parameters as floats when
    # every replication shares them, which spares numpy calls on one-element arrays).
    step_names = {
        h: tuple(
            f"{kind}/{c.grade_ids[h]}{suffix}"
            for kind, suffix in (
                ("lateral", ""),
                ("lateral_women", ""),
                ("select", ""),
                ("pick", "/women"),
                ("pick", "/men"),
            )
        )
        for h in vacancy_grades
    }
    floor_any = (P.women_floor > 0).any(0)  # [Y, G]
    shared = {
        name: getattr(P, name)[0].tolist() if getattr(P, name).shape[0] == 1 else None
        for name in ("lateral_share", "lateral_women_share", "women_odds")
    }

    scalar = (
        _ScalarVacancy(c, P, vacancy_grades)
        if type(sampler) is ExpectedSampler  # (a subclass runs the array path: tests)
        and batch == 1
        and vacancy_grades
        and all(getattr(P, f).shape[0] == 1 for f in PARAMETER_FIELDS)
        else None
    )

    def param(name: str, t: int, h: int):
        values = shared[name]
        return values[t][h] if values is not None else getattr(P, name)[:, t, h]

    for t in range(Y):
        a = P.attrition[:, t]
        p = P.promote_out[:, t]
        probs = np.stack([a, p, np.clip(1.0 - a - p, 0.0, 1.0)], axis=-1)  # [b, G, 2, K+1, 3]
        counts = sampler.transitions(n, probs, names)
        leavers = counts[..., 0].sum(-1)
        promoted = counts[..., 1].sum(-1)
        stay = counts[..., 2].copy()

        entrants = np.zeros((batch, G, 2), dtype=dt)
        promoted_out = promoted.copy()
        promoted_in = np.zeros((batch, G, 2), dtype=dt)
        promoted_in[:, 1:] = promoted[:, :-1]
        lateral_in = np.zeros((batch, G, 2), dtype=dt)
        recruits = np.zeros((batch, G, 2), dtype=dt)

        if scalar is not None:  # one expected path: the same step in Python floats
            scalar.year(t, stay[0], promoted_out[0], promoted_in[0], lateral_in[0], diag[0, t])
        for h in vacancy_grades if scalar is None else ():
            n_lat, n_lat_w, n_select, n_pick_w, n_pick_m = step_names[h]
            posts = sampler.count(P.establishment[:, t, h])
            vac = np.maximum(0, posts - stay[:, h].sum((1, 2)))
            lat = sampler.binomial(n_lat, vac, param("lateral_share", t, h))
            lat_w = sampler.binomial(n_lat_w, lat, param("lateral_women_share", t, h))
            m = c.min_years_out[h - 1]
            pool_w = stay[:, h - 1, 0, m:]
            pool_m = stay[:, h - 1, 1, m:]
            e_w, e_m = pool_w.sum(-1), pool_m.sum(-1)
            n_int = np.minimum(vac - lat, e_w + e_m)
            women = sampler.select(n_select, n_int, e_w, e_m, param("women_odds", t, h))
            men = n_int - women
            required = np.zeros(batch)
            binding = short = np.zeros(batch, dtype=bool)
            if floor_any[t, h]:
                f = P.women_floor[:, t, h]  # [b]
                required = sampler.ceil(f * n_int)
                raised = np.maximum(women, np.minimum(e_w, required))
                binding = raised > women + 1e-9
                short = e_w < required - 1e-9
                women = raised
                men = n_int - women
                if c.leave_vacant[h]:
                    # Men allowed beside W women under a floor f: W (1 - f) / f (at most N).
                    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                        cap = np.where(f > 0, women * (1 - f) / np.where(f > 0, f, 1.0), n_int)
                    cap = sampler.floor(np.minimum(cap, n_int))
                    men = np.where(short, np.minimum(men, cap), men)
            take_w = sampler.split(n_pick_w, women, pool_w)
            take_m = sampler.split(n_pick_m, men, pool_m)
            stay[:, h - 1, 0, m:] -= take_w
            stay[:, h - 1, 1, m:] -= take_m
            promoted_out[:, h - 1, 0] += women
            promoted_out[:, h - 1, 1] += men
            promoted_in[:, h, 0] += women
            promoted_in[:, h, 1] += men
            lateral_in[:, h, 0] = lat_w
            lateral_in[:, h, 1] = lat - lat_w
            filled = women + men
            diag[:, t, h] = np.stack(
                [vac, lat, filled, vac - lat - filled, required, binding, short], axis=-1
            )

        # Recruitment into the entry grade.
        if c.recruitment_mode == RECRUIT_FIXED:
            intake = sampler.integerize("intake", _one(P.intake[:, t]), batch)
        elif c.recruitment_mode == RECRUIT_REPLACE:
            posts = sampler.count(P.establishment[:, t, 0])
            intake = np.maximum(0, posts - stay[:, 0].sum((1, 2)))
        elif c.recruitment_mode == RECRUIT_CONSCRIPTION:  # the funnel's signers, below
            intake = np.zeros(batch, dtype=dt)
        else:  # RECRUIT_GROWTH
            growth_target = growth_target * (1.0 + P.growth_rate[:, t])
            current = stay.sum((1, 2, 3)) + promoted_in.sum((1, 2)) + lateral_in.sum((1, 2))
            intake = np.maximum(0, sampler.count(growth_target) - current)
        intake_w = sampler.binomial("intake_women", intake, _one(P.women_share[:, t]))
        recruits[:, 0, 0] = intake_w
        recruits[:, 0, 1] = intake - intake_w
        pipe.add_signers(t, recruits)

        entrants = promoted_in + lateral_in + recruits
        n = np.empty_like(n)
        n[..., 1:] = stay[..., :-1]
        n[..., K] += stay[..., K]
        for g in clamp:  # grades whose rates stop depending on k before K
            kg = c.K_grade[g]
            n[:, g, :, kg] += n[:, g, :, kg + 1 :].sum(-1)
            n[:, g, :, kg + 1 :] = 0
        n[..., 0] = entrants
        stock[:, t + 1] = n.sum(-1)
        pipe.deploy(t + 1, n)
        flows[:, t] = np.stack([leavers, promoted_out, promoted_in, recruits, lateral_in], axis=-1)
    return Raw(stock=stock, flows=flows, diagnostics=diag, final=n, **pipe.arrays())


def run_expected_raw(c: Compiled) -> Raw:
    """Run the expected-value engine (one deterministic path)."""
    return simulate(c, ExpectedSampler(), 1)


def posterior_index(seed: int, block: int, n_draws: int) -> np.ndarray:
    """Which parameter set each replication of a block runs: uniform over ``n_draws``.

    Drawn from the block's own stream ``posterior/draw``, so it does not depend on how
    replications are split, and two scenarios with the same posterior share it.
    """
    return decision_generator(seed, block, "posterior/draw").integers(n_draws, size=BLOCK_SIZE)


def run_stochastic_raw(
    c: Compiled,
    replications: int,
    seed: int,
    first: int = 0,
    progress: Callable[[int], None] | None = None,
    draws: list[Compiled] | None = None,
) -> Raw:
    """Run replications ``first … first+replications-1`` of the stochastic engine.

    Blocks of :data:`~simulator.rng.BLOCK_SIZE` replications are simulated whole and the
    requested rows are kept, so any split of replications gives identical numbers.
    ``progress`` is called with the number of replications finished after each block.
    ``draws`` (parameter sets compiled from a posterior sample, same structure as ``c``):
    replication r runs ``draws[i_r]`` with ``i_r`` from :func:`posterior_index`; the chosen
    indices are returned in ``Raw.draw``.
    """
    stop = first + replications
    parts = []
    stacked = Params.stack(draws) if draws else None
    for block in blocks_for(first, stop):
        params = index = None
        if stacked is not None:
            index = posterior_index(seed, block, len(draws))
            params = stacked.take(index)
        raw = simulate(c, StochasticSampler(seed, block), BLOCK_SIZE, params)
        raw.draw = index
        lo = max(first, block * BLOCK_SIZE) - block * BLOCK_SIZE
        hi = min(stop, (block + 1) * BLOCK_SIZE) - block * BLOCK_SIZE
        parts.append(
            Raw(
                raw.stock[lo:hi],
                raw.flows[lo:hi],
                raw.diagnostics[lo:hi],
                raw.final[lo:hi],
                None if index is None else index[lo:hi],
                **raw_rows(raw, lo, hi),
            )
        )
        if progress is not None:
            progress(hi - lo)
    return Raw(
        stock=np.concatenate([r.stock for r in parts]),
        flows=np.concatenate([r.flows for r in parts]),
        diagnostics=np.concatenate([r.diagnostics for r in parts]),
        final=np.concatenate([r.final for r in parts]),
        draw=None if not draws else np.concatenate([r.draw for r in parts]),
        **raw_concat(parts),
    )
