"""Calibration problem files: what to fit, to which published figures, with which error model.

A problem file (TOML; ``docs/calibration.md`` documents every field) names a scenario (path
relative to the problem file), the **free parameters** θ (each with bounds and a prior), the
**observations** y (published women's shares or headcounts of a population in a year, each
with a measurement model and its source), and the settings of the fit.

Free parameter j has bounds ``low_j < high_j`` and a prior density π_j on them:

* ``uniform``: π_j(θ) = 1 / (high − low);
* ``beta`` (α, β): (θ − low) / (high − low) ~ Beta(α, β);
* ``normal`` (mean μ, sd σ), truncated to [low, high]: π_j(θ) ∝ φ((θ − μ) / σ).

The joint prior is the product (independent parameters). A parameter writes its value to one
or several **parameter paths** of the scenario (``paths``; the syntax of
:mod:`simulator.paths`); with ``relative_to`` it is a multiplier: the value written at
``paths[i]`` is θ × (the value at ``relative_to[i]`` after the parameters listed before it).
With ``complement`` the paths ``complement[i]`` receive 1 − (the value written at
``paths[i]``), e.g. the attrition of a pipeline grade whose members either move on with the
fitted probability or leave. Parameters are applied in file order.

Observation i is a published value y_i of a quantity of a population in a year: ``quantity =
"women_share"`` (0-1) or ``"headcount"`` (persons), of the year-end ``stock`` or of the year's
``entrants`` (recruits, promotions and lateral hires into the population's grades; for the
reserved population ``intake`` the year's recruits). Its measurement model links it to the
model's value f_i(θ):

* ``binomial`` (women's shares only), effective sample size n_i (``n_eff``):
  log L_i = n_i [y_i ln f_i + (1 − y_i) ln(1 − f_i)] − n_i [y_i ln y_i + (1 − y_i) ln(1 − y_i)]
  (the binomial kernel for y_i n_i women out of n_i, shifted so that log L_i = 0 at f_i = y_i);
  standardised residual r_i = (y_i − f_i) / sqrt(f_i (1 − f_i) / n_i);
* ``tolerance`` τ_i (a stated absolute tolerance, in the quantity's unit, treated as a normal
  standard deviation): log L_i = −½ ((y_i − f_i) / τ_i)²; r_i = (y_i − f_i) / τ_i.

**Channels** (``[[channels]]``) are entry routes that the published figures count but the
scenario does not model as grades (e.g. police cadets in the Danish police's graduate figures):
each has a count of persons per year (``counts``) and a women's share (a number or a linear
ramp ``{from_year, to_year, start, end}``, held constant outside its years). Free parameters may
write to a channel's fields with paths that start with ``channels`` (``channels[id=police_cadets]
.women_share.start``); such paths are not scenario paths and are not part of the calibrated
scenario's posterior block. An observation may name a channel as its ``population`` (its model
value is the channel's women's share or count in that year), or list channels in ``channels``:
the published figure then counts the channels' persons too, and its model value is the mixture

    women's share f = (W + Σ_c n_c(t) s_c(t)) / (N + Σ_c n_c(t)),   headcount f = N + Σ_c n_c(t),

with W, N the women and persons of the engine's population and n_c(t), s_c(t) the count and
women's share of channel c in year t (every listed channel needs a count for that year).

**Interpolated tables** (``[[interpolate]]``): a table of years of the scenario (e.g.
``recruitment.women_share = {2010 = ..., 2015 = ..., 2020 = ..., 2024 = ...}``) whose listed
``knots`` years are written by parameters (``recruitment.women_share.2015``) is filled in,
after every parameter is written, with one entry per year from the first to the last knot,
linear between the knots: a piecewise-linear path at the engine's yearly resolution (a table
of years holds its last entry afterwards). The yearly entries are scenario paths of the
posterior block (``recruitment.women_share.2011`` …); the knot paths themselves are not listed
twice.

Every observation cites its figure: ``figure`` (an id of the published-figures data,
``calibration/data``, when that exists) and/or ``source`` with ``locator`` and ``quote``
inline. Every parameter states where its bounds and prior come from (``source`` or
``assumption``). Validation collects every problem and raises one
:class:`~simulator.errors.ScenarioError` with field paths (``observations[2].n_eff: ...``).
"""

from __future__ import annotations

import copy
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from simulator.errors import Issue, ScenarioError, issues_from_pydantic
from simulator.paths import Step, parse_path, resolve_slot, set_path
from simulator.scenario import (
    MAX_FILE_BYTES,
    MAX_POSTERIOR_DRAWS,
    MAX_POSTERIOR_PARAMETERS,
    RESERVED_POPULATIONS,
    Scenario,
    Target,
    parse_scenario,
)

MAX_OBSERVATIONS = 500
MAX_DESIGN_POINTS = 1 << 16
Text = Annotated[str, Field(max_length=4000)]
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
PathText = Annotated[str, Field(min_length=1, max_length=300)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prior(_Strict):
    """A prior on [low, high]: uniform, a scaled beta, or a normal truncated to the bounds."""

    distribution: Literal["uniform", "beta", "normal"]
    alpha: Positive | None = Field(None, description="beta: first shape parameter.")
    beta: Positive | None = Field(None, description="beta: second shape parameter.")
    mean: Finite | None = Field(None, description="normal: mean (before truncation).")
    sd: Positive | None = Field(None, description="normal: sd (before truncation).")

    @model_validator(mode="after")
    def _fields(self) -> Prior:
        need = {"uniform": (), "beta": ("alpha", "beta"), "normal": ("mean", "sd")}
        want = need[self.distribution]
        for name in ("alpha", "beta", "mean", "sd"):
            given = getattr(self, name) is not None
            if name in want and not given:
                raise ValueError(f"a {self.distribution} prior needs {', '.join(want)}")
            if name not in want and given:
                raise ValueError(f"{name} does not apply to a {self.distribution} prior")
        return self


def _prior(value: Any) -> Any:
    return {"distribution": value} if isinstance(value, str) else value


class Parameter(_Strict):
    """One free parameter: the paths it is written to, its bounds and prior, its provenance."""

    name: Ident
    paths: Annotated[list[PathText], Field(min_length=1, max_length=MAX_POSTERIOR_PARAMETERS)]
    relative_to: Annotated[list[PathText], Field(min_length=1)] | None = Field(
        None, description="Multiplier: value at paths[i] = θ × value at relative_to[i]."
    )
    complement: Annotated[list[PathText], Field(min_length=1)] | None = Field(
        None, description="Paths that receive 1 − the value written at paths[i]."
    )
    low: Finite
    high: Finite
    prior: Annotated[Prior, Field(description="uniform (default), beta or normal")] = Prior(
        distribution="uniform"
    )
    label: Text | None = None
    source: Text | None = None
    locator: Text | None = None
    assumption: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "prior" in data:
                data["prior"] = _prior(data["prior"])
            if isinstance(data.get("paths"), str):
                data["paths"] = [data["paths"]]
            for key in ("relative_to", "complement"):
                if isinstance(data.get(key), str):
                    data[key] = [data[key]]
        return data

    @model_validator(mode="after")
    def _checks(self) -> Parameter:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        pr = self.prior
        if pr.distribution == "normal" and not (
            self.low - 3 * pr.sd <= pr.mean <= self.high + 3 * pr.sd
        ):
            # Truncated to [low, high], such a prior is all at one bound: almost surely a typo.
            raise ValueError(
                f"the normal prior's mean {pr.mean:g} lies more than 3 sd ({pr.sd:g}) outside "
                f"[{self.low:g}, {self.high:g}]: truncated to the bounds it would sit at one bound"
            )
        if self.relative_to is not None and len(self.relative_to) != len(self.paths):
            raise ValueError(
                f"relative_to needs one path per entry of paths ({len(self.paths)}), "
                f"got {len(self.relative_to)}"
            )
        if self.complement is not None and len(self.complement) != len(self.paths):
            raise ValueError(
                f"complement needs one path per entry of paths ({len(self.paths)}), "
                f"got {len(self.complement)}"
            )
        if self.source is None and not (self.assumption and self.assumption.strip()):
            raise ValueError(
                "needs a source or an assumption saying where the bounds and prior come from"
            )
        for text in [*self.paths, *(self.relative_to or []), *(self.complement or [])]:
            try:
                parse_path(text)
            except ValueError as exc:
                raise ValueError(f"path {text!r}: {exc}") from None
        return self


class Observation(_Strict):
    """A published value to reproduce, its measurement model and its source."""

    id: Ident
    population: Ident = Field(description="A grade id, a group id, 'workforce' or 'intake'.")
    year: Annotated[int, Field(ge=1900, le=2200)]
    quantity: Literal["women_share", "headcount"] = "women_share"
    of: Literal["stock", "entrants"] = "stock"
    value: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    measurement: Literal["binomial", "tolerance"]
    n_eff: Positive | None = Field(None, description="binomial: effective sample size.")
    tolerance: Positive | None = Field(None, description="tolerance: sd in the quantity's unit.")
    channels: Annotated[list[Ident], Field(max_length=20)] = Field(
        default_factory=list,
        description="Channels whose persons the published figure also counts (a mixture).",
    )
    label: Text | None = None
    figure: Ident | None = Field(None, description="Id of a row of calibration/data.")
    source: Text | None = None
    locator: Text | None = None
    quote: Text | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _checks(self) -> Observation:
        if self.quantity == "women_share" and self.value > 1:
            raise ValueError(f"a women's share lies in [0, 1] (got {self.value:g})")
        if self.measurement == "binomial":
            if self.quantity != "women_share":
                raise ValueError("the binomial model applies to women's shares; use tolerance")
            if self.n_eff is None or self.tolerance is not None:
                raise ValueError("measurement 'binomial' needs n_eff (and no tolerance)")
        if self.measurement == "tolerance" and (self.tolerance is None or self.n_eff is not None):
            raise ValueError("measurement 'tolerance' needs tolerance (and no n_eff)")
        if self.figure is None and self.source is None:
            raise ValueError(
                "cite the figure: figure (an id in calibration/data) and/or source with locator"
            )
        return self


class ShareRamp(_Strict):
    """A women's share moving linearly from ``start`` (``from_year``) to ``end`` (``to_year``),
    held at ``start`` before and at ``end`` after."""

    from_year: Annotated[int, Field(ge=1900, le=2200)]
    to_year: Annotated[int, Field(ge=1900, le=2200)]
    start: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
    end: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _order(self) -> ShareRamp:
        if not self.from_year < self.to_year:
            raise ValueError(
                f"from_year ({self.from_year}) must be before to_year ({self.to_year})"
            )
        return self

    def at(self, year: int) -> float:
        """The share in ``year``."""
        if year <= self.from_year:
            return self.start
        if year >= self.to_year:
            return self.end
        w = (year - self.from_year) / (self.to_year - self.from_year)
        return self.start + w * (self.end - self.start)


Share = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


def _share_kind(v: Any) -> str:
    return "ramp" if isinstance(v, dict | ShareRamp) else "number"


class Channel(_Strict):
    """An entry route counted by published figures but not modelled by the scenario."""

    id: Ident
    label: Text | None = None
    counts: Annotated[
        dict[
            Annotated[int, Field(ge=1900, le=2200)],
            Annotated[float, Field(ge=0.0, allow_inf_nan=False)],
        ],
        Field(min_length=1, max_length=300, description="Persons per year (year = key)."),
    ]
    women_share: Annotated[
        Annotated[Share, Tag("number")] | Annotated[ShareRamp, Tag("ramp")],
        Discriminator(_share_kind),
        Field(description="A constant share, or a ramp {from_year, to_year, start, end}."),
    ]
    source: Text | None = None
    locator: Text | None = None
    quote: Text | None = None
    assumption: Text | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _provenance(self) -> Channel:
        if self.source is None and not (self.assumption and self.assumption.strip()):
            raise ValueError("needs a source or an assumption for its counts and women's share")
        return self

    def share(self, year: int) -> float:
        """The channel's women's share in ``year``."""
        ws = self.women_share
        return float(ws) if isinstance(ws, int | float) else ws.at(year)

    def count(self, year: int) -> float:
        """The channel's persons in ``year`` (KeyError if not given)."""
        return float(self.counts[year])


def is_channel_path(steps: list[Step]) -> bool:
    """Whether a parsed path addresses the problem's channels (not the scenario)."""
    return bool(steps) and steps[0] == "channels"


class Interpolate(_Strict):
    """A table of years of the scenario filled in linearly between knot years (after the
    parameters are written): one entry per year from the first to the last knot."""

    path: PathText = Field(description="A table of years of the scenario.")
    knots: Annotated[
        list[Annotated[int, Field(ge=1900, le=2200)]],
        Field(min_length=2, max_length=100, description="Knot years, increasing."),
    ]
    source: Text | None = None
    locator: Text | None = None
    assumption: Text | None = None

    @model_validator(mode="after")
    def _checks(self) -> Interpolate:
        if any(b <= a for a, b in zip(self.knots, self.knots[1:], strict=False)):
            raise ValueError(f"knots must be strictly increasing (got {self.knots})")
        if self.source is None and not (self.assumption and self.assumption.strip()):
            raise ValueError("needs a source or an assumption saying why the path is linear")
        try:
            steps = parse_path(self.path)
        except ValueError as exc:
            raise ValueError(f"path {self.path!r}: {exc}") from None
        if is_channel_path(steps):
            raise ValueError("interpolate applies to scenario tables, not to channels")
        return self

    def years(self) -> list[int]:
        """Every year the filled-in table has an entry for."""
        return list(range(self.knots[0], self.knots[-1] + 1))

    def yearly_paths(self) -> list[str]:
        """The path of every yearly entry (``recruitment.women_share.2011`` …)."""
        return [f"{self.path}.{y}" for y in self.years()]


def interpolate_table(table: dict[str, Any], knots: list[int]) -> None:
    """Fill a table of years (keys are year strings) in place: one entry per year from the
    first to the last knot, linear between the knots' values."""
    values = [float(table[str(k)]) for k in knots]
    for (a, va), (b, vb) in zip(
        zip(knots, values, strict=True), zip(knots[1:], values[1:], strict=True), strict=False
    ):
        for y in range(a, b + 1):
            table[str(y)] = va + (vb - va) * (y - a) / (b - a)
    ordered = dict(sorted(table.items(), key=lambda kv: int(kv[0])))
    table.clear()
    table.update(ordered)


class Design(_Strict):
    """Settings of the fit (see :mod:`calibration.fit`)."""

    points: Annotated[int, Field(ge=16, le=MAX_DESIGN_POINTS)] = 4096
    draws: Annotated[int, Field(ge=10, le=MAX_POSTERIOR_DRAWS)] = 400
    starts: Annotated[int, Field(ge=1, le=64)] = 6
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    refinements: Annotated[int, Field(ge=0, le=6)] = 3
    min_ess: Annotated[float, Field(ge=1.0, le=MAX_DESIGN_POINTS)] = 200.0
    level: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.90

    @field_validator("points")
    @classmethod
    def _power_of_two(cls, n: int) -> int:
        if n & (n - 1):
            lower = 1 << (n.bit_length() - 1)
            raise ValueError(
                f"points must be a power of 2 for a balanced Sobol design (use {lower} or "
                f"{lower * 2})"
            )
        return n


class Projection(_Strict):
    """How the calibrated scenario is written: horizon, name and targets."""

    out: PathText | None = Field(None, description="Default output file, relative to the problem.")
    end_year: Annotated[int, Field(ge=1900, le=2200)] | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Text | None = None
    targets_from: PathText | None = Field(
        None, description="Copy the targets (and the sources they cite) of this scenario file."
    )


class ProblemSpec(_Strict):
    """A calibration problem file (see the module docstring and docs/calibration.md)."""

    schema_version: Literal[1] = 1
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text = ""
    scenario: PathText = Field(description="The scenario to fit, relative to the problem file.")
    parameters: Annotated[list[Parameter], Field(min_length=1, max_length=50)]
    observations: Annotated[list[Observation], Field(min_length=1, max_length=MAX_OBSERVATIONS)]
    channels: Annotated[list[Channel], Field(max_length=20)] = []
    interpolate: Annotated[list[Interpolate], Field(max_length=20)] = []
    design: Design = Design()
    projection: Projection = Projection()
    notes: Annotated[list[Text], Field(max_length=100)] = []


@dataclass(frozen=True)
class Problem:
    """A validated problem: the spec, the scenario as data and validated, resolved paths."""

    spec: ProblemSpec
    path: Path | None
    scenario_path: Path
    base_data: dict[str, Any]
    base: Scenario
    targets: tuple[Target, ...]
    target_sources: dict[str, Any]

    @property
    def name(self) -> str:
        """The problem's name."""
        return self.spec.name

    @property
    def parameters(self) -> list[Parameter]:
        """The free parameters, in file order."""
        return list(self.spec.parameters)

    @property
    def observations(self) -> list[Observation]:
        """The observations, in file order."""
        return list(self.spec.observations)

    @property
    def channels(self) -> dict[str, Channel]:
        """The channels (as given in the file), by id."""
        return {c.id: c for c in self.spec.channels}

    @property
    def channels_data(self) -> dict[str, Any]:
        """The channels as data (``{"channels": [...]}``), the root of ``channels...`` paths."""
        return {"channels": [c.model_dump(mode="json") for c in self.spec.channels]}

    @property
    def all_written_paths(self) -> list[str]:
        """Every path a parameter writes, in order: each parameter's ``paths``, then its
        ``complement`` paths (scenario and channel paths)."""
        return [p for par in self.spec.parameters for p in [*par.paths, *(par.complement or [])]]

    @property
    def written_paths(self) -> list[str]:
        """Every *scenario* path a parameter writes, in order (the posterior block's
        parameters); paths into the problem's channels are left out, and the knots of an
        interpolated table are replaced by every yearly entry of the table (after the other
        paths, in the order of ``[[interpolate]]``); a year of the table outside its knots
        (not filled in) stays a path of its own."""
        tables = [(parse_path(t.path), t.years()) for t in self.spec.interpolate]

        def in_table(steps: list[Step]) -> bool:  # an entry the interpolation fills in
            return any(
                len(steps) == len(t) + 1
                and steps[: len(t)] == t
                and str(steps[-1]).isdigit()
                and int(steps[-1]) in years
                for t, years in tables
            )

        own = [
            p
            for p in self.all_written_paths
            if not is_channel_path(parse_path(p)) and not in_table(parse_path(p))
        ]
        return own + [p for t in self.spec.interpolate for p in t.yearly_paths()]

    @property
    def channel_paths(self) -> list[str]:
        """Every path into the problem's channels that a parameter writes, in order."""
        return [p for p in self.all_written_paths if is_channel_path(parse_path(p))]

    def steps(self, text: str) -> list[Step]:
        """Parsed steps of a path."""
        return parse_path(text)


def _read(path: Path, field: str | None = None, source: str | None = None) -> tuple[Any, bytes]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError(
                [Issue(field or "", f"file is larger than {MAX_FILE_BYTES} bytes", str(path))],
                source or str(path),
            )
        raw = path.read_bytes()
    except OSError as exc:
        issue = Issue(field or "", f"cannot read {str(path)!r}: {exc.strerror}")
        raise ScenarioError([issue], source or str(path)) from None
    try:
        text = raw.decode("utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except UnicodeDecodeError as exc:
        issue = Issue(field or "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        raise ScenarioError([issue], source or str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Issue(field or "", f"not valid TOML: {exc}")], source) from None
    except json.JSONDecodeError as exc:
        raise ScenarioError([Issue(field or "", f"not valid JSON: {exc.msg}")], source) from None
    return data, raw


def load_problem(path: str | Path) -> Problem:
    """Read and validate a calibration problem file and its scenario.

    Raises
    ------
    ScenarioError
        With every problem in the file (field paths), including paths that do not exist in the
        scenario, populations it does not have and years outside its horizon.
    """
    p = Path(path)
    data, _ = _read(p)
    return problem_from_data(data, base_dir=p.parent, source=str(p), path=p)


def problem_from_data(
    data: Any, base_dir: Path, source: str | None = None, path: Path | None = None
) -> Problem:
    """Validate parsed problem data; load and cross-check its scenario."""
    if not isinstance(data, dict):
        raise ScenarioError([Issue("", "a problem file must be a table at top level")], source)
    try:
        spec = ProblemSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(issues_from_pydantic(exc, ProblemSpec), source) from None

    scenario_path = (base_dir / spec.scenario).resolve()
    raw, _ = _read(scenario_path, "scenario", source)
    try:
        base = parse_scenario(copy.deepcopy(raw), source=str(scenario_path))
    except ScenarioError as exc:
        issues = [
            Issue("scenario", f"the scenario is invalid: {i}", spec.scenario) for i in exc.issues
        ]
        raise ScenarioError(issues, source) from None
    from simulator.scenario import scenario_to_data

    base_data = scenario_to_data(base)
    issues = cross_check(spec, base, base_data)

    targets: tuple[Target, ...] = ()
    target_sources: dict[str, Any] = {}
    proj = spec.projection
    if proj.end_year is not None and proj.end_year < base.end_year:
        issues.append(
            Issue(
                "projection.end_year",
                f"must not be before the scenario's {base.end_year}",
                proj.end_year,
            )
        )
    if proj.targets_from is not None:
        tpath = (base_dir / proj.targets_from).resolve()
        try:
            tdata, _ = _read(tpath, "projection.targets_from", source)
            other = parse_scenario(tdata, source=str(tpath))
        except ScenarioError as exc:
            issues += [
                Issue("projection.targets_from", f"cannot use it: {i}", proj.targets_from)
                for i in exc.issues
            ]
        else:
            targets = tuple(other.targets)
            for t in targets:
                for ref in [t.source] if isinstance(t.source, str) else list(t.source or []):
                    target_sources[ref] = other.sources[ref]
    if issues:
        raise ScenarioError(issues, source)
    return Problem(spec, path, scenario_path, base_data, base, targets, target_sources)


def cross_check(spec: ProblemSpec, base: Scenario, base_data: dict[str, Any]) -> list[Issue]:
    """Check the problem against its scenario; return every problem found."""
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    names: set[str] = set()
    written_before: set[str] = set()
    channels_root = {"channels": [c.model_dump(mode="json") for c in spec.channels]}

    def root(text: str) -> Any:
        return channels_root if is_channel_path(parse_path(text)) else base_data

    def where_of(text: str) -> str:
        return "the channels" if is_channel_path(parse_path(text)) else "the scenario"

    for i, par in enumerate(spec.parameters):
        if par.name in names:
            issues.append(Issue(f"parameters[{i}].name", "duplicate parameter name", par.name))
        names.add(par.name)
        for j, text in enumerate(par.paths):
            key = json.dumps(parse_path(text))
            if key in seen:
                issues.append(
                    Issue(f"parameters[{i}].paths[{j}]", f"already written by {seen[key]}", text)
                )
            seen.setdefault(key, f"parameters[{i}]")
            try:
                container, slot = resolve_slot(root(text), parse_path(text))
            except ValueError as exc:
                issues.append(
                    Issue(
                        f"parameters[{i}].paths[{j}]", f"not found in {where_of(text)}: {exc}", text
                    )
                )
                continue
            current = _get(container, slot)
            if isinstance(current, list):
                issues.append(
                    Issue(
                        f"parameters[{i}].paths[{j}]",
                        "addresses a list, not a number (address one item, e.g. [0])",
                        text,
                    )
                )
            elif (
                isinstance(container, dict)
                and slot not in container
                and not is_channel_path(parse_path(text))
            ):
                # A new key (a field left at its default, or a typo): try it once, so that a
                # typo is named here rather than failing every design point.
                trial = copy.deepcopy(base_data)
                set_path(trial, parse_path(text), (par.low + par.high) / 2)
                try:
                    parse_scenario(trial, source="trial")
                except ScenarioError as exc:
                    issues.append(
                        Issue(
                            f"parameters[{i}].paths[{j}]",
                            f"writing it makes the scenario invalid: {exc.issues[0]}",
                            text,
                        )
                    )
        for j, text in enumerate(par.complement or []):
            where = f"parameters[{i}].complement[{j}]"
            key = json.dumps(parse_path(text))
            if key in seen:
                issues.append(Issue(where, f"already written by {seen[key]}", text))
            seen.setdefault(key, f"parameters[{i}]")
            try:
                resolve_slot(root(text), parse_path(text))
            except ValueError as exc:
                issues.append(Issue(where, f"not found in {where_of(text)}: {exc}", text))
        for j, text in enumerate(par.relative_to or []):
            where = f"parameters[{i}].relative_to[{j}]"
            try:
                container, slot = resolve_slot(root(text), parse_path(text))
            except ValueError as exc:
                issues.append(Issue(where, f"not found in {where_of(text)}: {exc}", text))
                continue
            if not _is_number(_get(container, slot)):
                issues.append(Issue(where, f"must address a number in {where_of(text)}", text))
            if json.dumps(parse_path(text)) in {json.dumps(parse_path(x)) for x in par.paths}:
                issues.append(Issue(where, "a multiplier cannot be relative to its own path", text))
        written_before |= {json.dumps(parse_path(x)) for x in par.paths}

    issues += _check_interpolate(spec, base_data)
    pipeline_pops = set(base.pipeline_populations())  # funnel stages and deployed pools
    pops = set(base.grade_ids) | set(base.groups) | set(RESERVED_POPULATIONS) | pipeline_pops
    channels = {c.id: c for c in spec.channels}
    channel_ids: set[str] = set()
    for k, ch in enumerate(spec.channels):
        if ch.id in channel_ids:
            issues.append(Issue(f"channels[{k}].id", "duplicate channel id", ch.id))
        if ch.id in pops:
            issues.append(
                Issue(
                    f"channels[{k}].id",
                    "is already a grade, a group or a reserved population of the scenario",
                    ch.id,
                )
            )
        channel_ids.add(ch.id)
    ids: set[str] = set()
    for i, ob in enumerate(spec.observations):
        if ob.id in ids:
            issues.append(Issue(f"observations[{i}].id", "duplicate observation id", ob.id))
        ids.add(ob.id)
        if ob.population in channels and ob.population not in pops:
            ch = channels[ob.population]
            if "of" in ob.model_fields_set:
                issues.append(
                    Issue(
                        f"observations[{i}].of",
                        "does not apply to a channel (its value is the channel's women's share "
                        "or count in the year)",
                        ob.of,
                    )
                )
            if ob.channels:
                issues.append(
                    Issue(
                        f"observations[{i}].channels",
                        "an observation of a channel cannot add channels",
                        ob.channels,
                    )
                )
            if ob.quantity == "headcount" and ob.year not in ch.counts:
                issues.append(
                    Issue(
                        f"observations[{i}].year",
                        f"channel {ch.id!r} has no count for this year (counts: "
                        f"{sorted(ch.counts)})",
                        ob.year,
                    )
                )
        elif ob.population not in pops:
            issues.append(
                Issue(
                    f"observations[{i}].population",
                    f"unknown population; use a grade {base.grade_ids}, a group "
                    f"{sorted(base.groups)}, 'workforce', 'intake', a funnel or deployment "
                    f"population {sorted(pipeline_pops)} or a channel {sorted(channels)}",
                    ob.population,
                )
            )
        elif ob.population in pipeline_pops and "of" in ob.model_fields_set:
            issues.append(
                Issue(
                    f"observations[{i}].of",
                    "does not apply to a funnel or deployment population (a funnel stage is "
                    "the year's flow, the deployed are counted at the year-end)",
                    ob.of,
                )
            )
        for j, cid in enumerate(ob.channels):
            where = f"observations[{i}].channels[{j}]"
            if cid not in channels:
                issues.append(
                    Issue(
                        where,
                        f"unknown channel; the problem's channels are {sorted(channels)}",
                        cid,
                    )
                )
            elif cid in ob.channels[:j]:
                issues.append(Issue(where, "channel listed twice", cid))
            elif ob.year not in channels[cid].counts:
                issues.append(
                    Issue(
                        where,
                        f"channel {cid!r} has no count for {ob.year} (counts: "
                        f"{sorted(channels[cid].counts)})",
                        cid,
                    )
                )
        flow = (
            ob.of == "entrants"
            or ob.population == "intake"
            or (ob.population in pipeline_pops and not ob.population.startswith("deployed"))
        )
        first = base.start_year + 1 if flow else base.start_year
        if not first <= ob.year <= base.end_year:
            issues.append(
                Issue(
                    f"observations[{i}].year",
                    f"must lie within {first}-{base.end_year} (the scenario's "
                    f"{'projection years' if flow else 'horizon'})",
                    ob.year,
                )
            )
    issues += _check_figures(spec)
    return issues


def _check_interpolate(spec: ProblemSpec, base_data: dict[str, Any]) -> list[Issue]:
    """Each interpolated path is a table of years of the scenario with an entry at every knot;
    no parameter writes a year of it between the first and last knot that is not a knot (the
    interpolation would overwrite it; a year outside the knots keeps its value)."""
    issues: list[Issue] = []
    seen: set[str] = set()
    written = [parse_path(p) for p in spec_written(spec)]
    for i, it in enumerate(spec.interpolate):
        where = f"interpolate[{i}]"
        steps = parse_path(it.path)
        key = json.dumps(steps)
        if key in seen:
            issues.append(Issue(f"{where}.path", "table listed twice", it.path))
        seen.add(key)
        try:
            container, slot = resolve_slot(base_data, steps)
        except ValueError as exc:
            issues.append(Issue(f"{where}.path", f"not found in the scenario: {exc}", it.path))
            continue
        table = _get(container, slot)
        if not isinstance(table, dict) or not all(str(k).isdigit() for k in table):
            issues.append(
                Issue(
                    f"{where}.path",
                    "must address a table of years (e.g. {2010 = 0.2, 2015 = 0.25}) in the "
                    "scenario",
                    it.path,
                )
            )
            continue
        missing = [k for k in it.knots if str(k) not in table]
        if missing:
            issues.append(
                Issue(
                    f"{where}.knots",
                    f"the table has no entry for {missing} (entries: {sorted(map(int, table))})",
                    it.knots,
                )
            )
        for w in written:
            if len(w) == len(steps) + 1 and w[: len(steps)] == steps:
                year = w[-1]
                if not (isinstance(year, str) and year.isdigit()):
                    issues.append(
                        Issue(
                            f"{where}.path",
                            f"a parameter writes {it.path}.{year}, which is not a year of the "
                            "table",
                            it.path,
                        )
                    )
                elif it.knots[0] < int(year) < it.knots[-1] and int(year) not in it.knots:
                    # the years from the first to the last knot are filled in: a year outside
                    # them keeps the parameter's value
                    issues.append(
                        Issue(
                            f"{where}.knots",
                            f"a parameter writes {it.path}.{year}, which lies between the knots "
                            f"{it.knots[0]} and {it.knots[-1]} but is not one (the "
                            "interpolation would overwrite it)",
                            it.knots,
                        )
                    )
    return issues


def spec_written(spec: ProblemSpec) -> list[str]:
    """Every path the parameters of a spec write (paths and complements)."""
    return [p for par in spec.parameters for p in [*par.paths, *(par.complement or [])]]


def _check_figures(spec: ProblemSpec) -> list[Issue]:
    """Check ``figure`` ids against the published-figures data when it is available."""
    wanted = [(i, ob.figure) for i, ob in enumerate(spec.observations) if ob.figure]
    if not wanted:
        return []
    try:
        from calibration.data import load_figures  # written by another part of the project
    except ImportError:
        return [
            Issue(
                f"observations[{i}].figure",
                "the published-figures data (calibration/data.py) is not available; cite "
                "source/locator/quote inline instead",
                fig,
            )
            for i, fig in wanted
        ]
    frame = load_figures().set_index("id")
    issues: list[Issue] = []
    for i, fig in wanted:
        if fig not in frame.index:
            issues.append(Issue(f"observations[{i}].figure", "no such id in calibration/data", fig))
            continue
        row = frame.loc[fig]
        ob = spec.observations[i]
        if row["unit"] in ("share", "persons") and not math.isclose(
            float(row["value"]), ob.value, rel_tol=1e-9, abs_tol=1e-12
        ):
            issues.append(
                Issue(
                    f"observations[{i}].value",
                    f"differs from figure {fig!r} in calibration/data ({float(row['value']):g} "
                    f"{row['unit']})",
                    ob.value,
                )
            )
    return issues


def _get(container: Any, slot: Any) -> Any:
    if isinstance(container, dict):
        return container.get(slot)
    return container[slot]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
