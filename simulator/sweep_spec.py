"""Sweep files: a base scenario, the parameters to vary, and how to vary them.

A sweep file (TOML, or JSON with the same keys) names a base scenario file and the values
to give some of its parameters; every combination of values is one **point**, i.e. one
scenario that is run with the same replications and the same root seed (common random
numbers: decisions that a lever does not touch draw the same numbers at every point, so
differences between points are less blurred by luck). ``docs/sweeps.md`` documents the
format; in short::

    name = "Police leaders: intake share x promotion floor"
    scenario = "../scenarios/dk_police.toml"     # relative to this file
    replications = 200                           # per point (default: the scenario's)
    seed = 20241231                              # default: the scenario's simulation.seed
    chunk_replications = 1000                    # replications per task (multiple of 100)

    [[grid]]                                     # full factorial over every [[grid]] entry
    path = "recruitment.women_share"
    values = [0.30, 0.35, 0.40]

    [sample]                                     # and/or a space-filling sample within bounds
    method = "lhs"                               # "lhs" (Latin hypercube) or "sobol"
    n = 64
    seed = 7
    [[sample.parameters]]
    path = "attrition[grade=police_officers].women"
    low = 0.04
    high = 0.08

With both a grid and a sample, every grid point is combined with every sample point.

**Parameter paths** address a value in the scenario's data as written in the file:
dotted keys (``recruitment.women_share``), list items by position (``promotions[1]``, from 0)
or by a field of the item (``promotions[to=police_leaders]``, ``attrition[grade=officers]``,
``policies[id=quota]``), and nested values (``promotions[0].probability.women``,
``attrition[0].women[2]`` for a years-in-grade profile). The last key may be absent in the base
scenario (``women_floor`` left at its default); everything before it must exist. Setting a
time-series field to a number makes it constant over the horizon.

Validation reports every problem as ``path: message (got value)`` (``grid[1].values[2]: ...``)
through :class:`~simulator.errors.ScenarioError`. Before any point runs, each value is written
alone into the base scenario: a value its field refuses (unknown field, wrong type, out of
range) is reported on ``grid[i].values[j]`` (or ``grid[i].path`` when every value fails the same
way). Each point's scenario is then validated by :func:`simulator.parse_scenario` when the
sweep runs, and a point whose values make an invalid scenario only in combination is reported
by its parameter values while the others proceed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from simulator import __version__
from simulator.errors import Issue, ScenarioError, issues_from_pydantic
from simulator.paths import Step, parse_path, resolve_slot, set_path  # re-exported
from simulator.rng import BLOCK_SIZE, SEED_LIMIT
from simulator.scenario import (
    MAX_FILE_BYTES,
    MAX_REPLICATIONS,
    Scenario,
    field_issues,
    file_too_large,
    parse_scenario,
    scenario_fingerprint,
)

#: Most points one sweep may have (grid size x sample size).
MAX_POINTS = 100_000
#: Most values in one [[grid]] entry.
MAX_GRID_VALUES = 10_000
#: Default replications per task when a point has more replications than this.
DEFAULT_CHUNK = 1000

#: Column names of the output tables; a parameter's ``name`` must not be one of them.
RESERVED_COLUMNS = frozenset(
    {
        "point",
        "label",
        "status",
        "error",
        "replication",
        "replications",
        "year",
        "grade",
        "sex",
        "stock",
        "share_of_grade",
        "leavers",
        "promoted_out",
        "promoted_in",
        "recruits",
        "lateral_in",
        "population",
        "women",
        "men",
        "total",
        "share",
        "target",
        "deadline",
        "share_at_deadline",
        "met",
        "first_year_met",
        "engine",
        "chunk",
    }
)


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-\[\]=]+$")]
PathText = Annotated[str, Field(min_length=1, max_length=300)]
GridValue = bool | int | float | Annotated[str, Field(max_length=200)]


def _check_path(v: str) -> str:
    parse_path(v)
    return v


class GridParameter(_Strict):
    """One lever of the full-factorial grid: a path and its values."""

    path: PathText
    name: Name | None = Field(None, description="Column name in the outputs (default: the path).")
    values: Annotated[list[GridValue], Field(min_length=1, max_length=MAX_GRID_VALUES)]

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _check_path(v)

    @field_validator("values")
    @classmethod
    def _homogeneous(cls, values: list[Any]) -> list[Any]:
        kinds = {_kind(v) for v in values}
        if len(kinds) > 1:
            raise ValueError("values must all be numbers, all strings or all booleans")
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError("values must be finite numbers")
        seen: list[Any] = []
        for v in values:
            if any(v == s and type(v) is type(s) for s in seen) or (
                _kind(v) == "number" and any(float(v) == float(s) for s in seen)
            ):
                raise ValueError(f"value {v!r} is given twice (each point must be distinct)")
            seen.append(v)
        return values

    @property
    def column(self) -> str:
        """The output column of this parameter."""
        return self.name or self.path


class SampledParameter(_Strict):
    """One lever of the space-filling sample: a path and its bounds."""

    path: PathText
    name: Name | None = Field(None, description="Column name in the outputs (default: the path).")
    low: Annotated[float, Field(allow_inf_nan=False)]
    high: Annotated[float, Field(allow_inf_nan=False)]
    integer: bool = Field(False, description="Round sampled values to whole numbers.")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _check_path(v)

    @model_validator(mode="after")
    def _bounds(self) -> SampledParameter:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.integer and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError("an integer parameter needs whole-number low and high")
        return self

    @property
    def column(self) -> str:
        """The output column of this parameter."""
        return self.name or self.path


class Sample(_Strict):
    """A Latin hypercube or scrambled Sobol sample of ``n`` points within the bounds."""

    method: Literal["lhs", "sobol"]
    n: Annotated[int, Field(ge=1, le=MAX_POINTS)]
    seed: Annotated[int, Field(ge=0, lt=2**64)] = 0
    parameters: Annotated[list[SampledParameter], Field(min_length=1, max_length=50)]

    @field_validator("n")
    @classmethod
    def _sobol_power_of_two(cls, n: int, info: ValidationInfo) -> int:
        if info.data.get("method") == "sobol" and n & (n - 1):
            lower = 1 << (n.bit_length() - 1)
            raise ValueError(
                f"a Sobol sample keeps its balance properties only for n a power of 2 "
                f"(use {lower} or {lower * 2}), or use method = 'lhs'"
            )
        return n


class SweepSpec(_Strict):
    """A sweep file (see the module docstring and ``docs/sweeps.md``)."""

    schema_version: Literal[1] = 1
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=4000)] = ""
    scenario: PathText = Field(description="Base scenario file, relative to the sweep file.")
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] | None = None
    seed: Annotated[int, Field(ge=0, lt=SEED_LIMIT)] | None = None
    chunk_replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] | None = None
    grid: Annotated[list[GridParameter], Field(max_length=50)] = []
    sample: Sample | None = None

    @model_validator(mode="after")
    def _levers(self) -> SweepSpec:
        if not self.grid and self.sample is None:
            raise ValueError("a sweep needs [[grid]] entries, a [sample], or both")
        n = math.prod(len(g.values) for g in self.grid) * (self.sample.n if self.sample else 1)
        if n > MAX_POINTS:
            raise ValueError(f"the sweep has {n} points; at most {MAX_POINTS} are allowed")
        return self


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return "string"


# --------------------------------------------------------------------------------------------
# The loaded sweep
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lever:
    """One swept parameter: where it goes, what its column is called, its value type."""

    path: str
    column: str
    steps: tuple[Step, ...]
    dtype: Literal["float64", "int64", "bool", "str"]
    origin: str  # "grid[i]" or "sample.parameters[i]"
    low: float | None = None
    high: float | None = None
    integer: bool = False


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its number and the value of every lever."""

    index: int
    values: dict[str, Any]

    @property
    def label(self) -> str:
        """The point's name in reports: its parameter values."""
        return ", ".join(f"{k}={_fmt(v)}" for k, v in self.values.items())


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


@dataclass
class Sweep:
    """A validated sweep file, its base scenario and its points.

    Attributes
    ----------
    spec
        The validated sweep file.
    path, base_path
        The sweep file and the base scenario file.
    base_data
        The base scenario as written in its file (a dict); points are copies with levers set.
    base
        The validated base scenario.
    levers
        The swept parameters, grid first, in file order.
    points
        Every point, grid outermost (last [[grid]] entry varying fastest), then sample.
    replications, seed, chunk_replications
        Resolved run settings (defaults taken from the base scenario).
    """

    spec: SweepSpec
    path: Path | None
    base_path: Path | None
    base_data: dict[str, Any]
    base: Scenario
    levers: list[Lever]
    points: list[Point]
    replications: int
    seed: int
    chunk_replications: int
    file_sha256: str = ""
    base_file_sha256: str = ""
    _identity: str = field(default="", repr=False)

    @property
    def name(self) -> str:
        """The sweep's name."""
        return self.spec.name

    @property
    def chunks_per_point(self) -> int:
        """Tasks per point."""
        return -(-self.replications // self.chunk_replications)

    def chunk_range(self, chunk: int) -> tuple[int, int]:
        """Return (first replication, number of replications) of a chunk."""
        first = chunk * self.chunk_replications
        return first, min(self.chunk_replications, self.replications - first)

    def point_data(self, point: Point) -> dict[str, Any]:
        """Return the scenario data of a point (a fresh copy of the base with levers set)."""
        data = copy.deepcopy(self.base_data)
        for lever in self.levers:
            set_path(data, list(lever.steps), point.values[lever.column])
        return data

    def point_scenario(self, point: Point) -> Scenario:
        """Validate a point's scenario (raises :class:`ScenarioError` naming the point)."""
        try:
            return parse_scenario(self.point_data(point), source=f"point {point.index}")
        except ScenarioError as exc:
            exc.source = f"point {point.index} ({point.label})"
            raise

    @property
    def identity(self) -> str:
        """sha256 of everything that determines the results (not names, comments or paths)."""
        return self._identity

    def iter_tasks(self) -> Iterator[tuple[Point, int]]:
        """Yield (point, chunk) for every task, in point order."""
        for point in self.points:
            for chunk in range(self.chunks_per_point):
                yield point, chunk


def _check_values(spec: Any, base_data: dict[str, Any]) -> list[Issue]:
    """Each grid value (and each sample bound) written alone into the base scenario: a value
    that the field itself refuses (unknown field, wrong type, out of range) is reported once
    here, on its own path, rather than failing every point that uses it.

    Only field validation counts (:func:`simulator.scenario.field_issues`): a cross-reference
    problem (a deadline beyond the base's end year, when ``end_year`` is swept too) may be
    mended by another lever's value, so it is left to the points.
    """
    cases: list[tuple[str, str, Any]] = [
        (f"grid[{i}].values[{j}]", g.path, v)
        for i, g in enumerate(spec.grid)
        for j, v in enumerate(g.values)
    ]
    if spec.sample is not None:
        for i, sp in enumerate(spec.sample.parameters):
            cases += [
                (f"sample.parameters[{i}].{b}", sp.path, getattr(sp, b)) for b in ("low", "high")
            ]
    issues: list[Issue] = []
    by_entry: dict[str, list[tuple[str, str, Any]]] = {}
    for where, ptext, value in cases:
        steps = parse_path(ptext)
        field = str(steps[-1])
        trial = copy.deepcopy(base_data)
        try:
            set_path(trial, steps, value)
        except ValueError as exc:
            message = str(exc)
        else:
            own = [x for x in field_issues(trial) if x.path.split(".")[-1].split("[")[0] == field]
            if not own:
                continue  # valid, or not the field's own problem
            message = own[0].message
        entry = where.rsplit(".", 1)[0]
        by_entry.setdefault(entry, []).append((where, message, value))
    for entry, failures in by_entry.items():
        messages = {m for _, m, _ in failures}
        n_values = sum(1 for where, _, _ in cases if where.rsplit(".", 1)[0] == entry)
        if len(failures) == n_values and len(messages) == 1 and n_values > 1:
            ptext = next(p for where, p, _ in cases if where.rsplit(".", 1)[0] == entry)
            issues.append(Issue(f"{entry}.path", f"every value fails: {messages.pop()}", ptext))
        else:
            issues += [Issue(where, f"invalid here: {m}", v) for where, m, v in failures]
    return issues


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file and its base scenario.

    Raises
    ------
    ScenarioError
        With every problem in the sweep file (field-level), or the base scenario's problems.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError([file_too_large(size)], str(p))
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError([Issue("", f"cannot read file: {exc.strerror}")], str(p)) from None
    data = _decode(raw, "json" if p.suffix.lower() == ".json" else "toml", str(p))
    return sweep_from_data(data, base_dir=p.parent, source=str(p), file_bytes=raw, path=p)


def loads_sweep(
    text: str,
    base_dir: str | Path,
    fmt: Literal["toml", "json"] = "toml",
    source: str | None = None,
) -> Sweep:
    """Parse sweep text; the base scenario path is taken relative to ``base_dir``."""
    data = _decode(text.encode(), fmt, source)
    return sweep_from_data(data, base_dir=Path(base_dir), source=source, file_bytes=text.encode())


def _decode(raw: bytes, fmt: str, source: str | None) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [Issue("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")], source
        ) from None
    try:
        return tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Issue("", f"not valid TOML: {exc}")], source) from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            [Issue("", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")],
            source,
        ) from None


def sweep_from_data(
    data: Any,
    base_dir: Path,
    source: str | None = None,
    file_bytes: bytes = b"",
    path: Path | None = None,
) -> Sweep:
    """Validate parsed sweep data, load the base scenario, resolve levers and points."""
    if not isinstance(data, dict):
        raise ScenarioError(
            [Issue("", "a sweep file must be a table (mapping) at top level")], source
        )
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(issues_from_pydantic(exc, SweepSpec), source) from None

    base_path = (base_dir / spec.scenario).resolve()
    try:
        base_raw = base_path.read_bytes()
    except OSError as exc:
        raise ScenarioError(
            [
                Issue(
                    "scenario",
                    f"cannot read the base scenario {str(base_path)!r}: {exc.strerror}",
                    spec.scenario,
                )
            ],
            source,
        ) from None
    base_fmt = "json" if base_path.suffix.lower() == ".json" else "toml"
    base_data = _decode(base_raw, base_fmt, str(base_path))
    try:
        base = parse_scenario(copy.deepcopy(base_data), source=str(base_path))
    except ScenarioError as exc:
        issues = [
            Issue("scenario", f"the base scenario is invalid: {i}", spec.scenario)
            for i in exc.issues
        ]
        raise ScenarioError(issues, source) from None

    issues: list[Issue] = []
    levers: list[Lever] = []
    entries: list[tuple[str, str, str | None]] = [
        (f"grid[{i}]", g.path, g.name) for i, g in enumerate(spec.grid)
    ]
    if spec.sample is not None:
        entries += [
            (f"sample.parameters[{i}]", sp.path, sp.name)
            for i, sp in enumerate(spec.sample.parameters)
        ]
    seen_paths: dict[str, str] = {}
    seen_cols: dict[str, str] = {}
    for origin, ptext, name in entries:
        steps = parse_path(ptext)
        try:
            resolve_slot(base_data, steps)
        except ValueError as exc:
            issues.append(Issue(f"{origin}.path", f"not found in the base scenario: {exc}", ptext))
        canonical = json.dumps(steps)
        if canonical in seen_paths:
            issues.append(
                Issue(f"{origin}.path", f"already swept by {seen_paths[canonical]}", ptext)
            )
        seen_paths.setdefault(canonical, origin)
        column = name or ptext
        if column in RESERVED_COLUMNS:
            issues.append(
                Issue(
                    f"{origin}.name",
                    "is a column of the output tables; choose another name",
                    column,
                )
            )
        if column in seen_cols:
            issues.append(
                Issue(f"{origin}.name", f"the same column as {seen_cols[column]}", column)
            )
        seen_cols.setdefault(column, origin)

    replications = spec.replications or base.simulation.replications
    seed = base.simulation.seed if spec.seed is None else spec.seed
    chunk = spec.chunk_replications or min(replications, DEFAULT_CHUNK)
    if issues:
        raise ScenarioError(issues, source)

    for i, g in enumerate(spec.grid):
        kind = _kind(g.values[0])
        dtype: Literal["float64", "int64", "bool", "str"]
        if kind == "number":
            dtype = "int64" if all(isinstance(v, int) for v in g.values) else "float64"
        else:
            dtype = "bool" if kind == "bool" else "str"
        levers.append(Lever(g.path, g.column, tuple(parse_path(g.path)), dtype, f"grid[{i}]"))
    if spec.sample is not None:
        for i, sp in enumerate(spec.sample.parameters):
            levers.append(
                Lever(
                    sp.path,
                    sp.column,
                    tuple(parse_path(sp.path)),
                    "int64" if sp.integer else "float64",
                    f"sample.parameters[{i}]",
                    low=sp.low,
                    high=sp.high,
                    integer=sp.integer,
                )
            )

    issues = _check_values(spec, base_data)
    if issues:
        raise ScenarioError(issues, source)
    points = _points(spec, levers)
    sweep = Sweep(
        spec=spec,
        path=path,
        base_path=base_path,
        base_data=base_data,
        base=base,
        levers=levers,
        points=points,
        replications=replications,
        seed=seed,
        chunk_replications=chunk,
        file_sha256=hashlib.sha256(file_bytes).hexdigest(),
        base_file_sha256=hashlib.sha256(base_raw).hexdigest(),
    )
    sweep._identity = _identity(sweep)
    return sweep


def sample_unit(method: str, d: int, n: int, seed: int) -> np.ndarray:
    """Return an ``[n, d]`` Latin hypercube or scrambled Sobol sample in the unit cube."""
    from scipy.stats import qmc

    rng = np.random.default_rng(seed)
    cls = qmc.LatinHypercube if method == "lhs" else qmc.Sobol
    try:
        engine = cls(d, rng=rng)
    except TypeError:  # scipy < 1.15 spells it seed=
        engine = cls(d, seed=rng)
    return engine.random(n)


def _points(spec: SweepSpec, levers: list[Lever]) -> list[Point]:
    grid_cols = [g.column for g in spec.grid]
    grid = list(itertools.product(*[g.values for g in spec.grid])) if spec.grid else [()]
    sampled: list[dict[str, Any]] = [{}]
    if spec.sample is not None:
        params = spec.sample.parameters
        unit = sample_unit(spec.sample.method, len(params), spec.sample.n, spec.sample.seed)
        sampled = []
        for row in unit:
            values: dict[str, Any] = {}
            for sp, u in zip(params, row, strict=True):
                if sp.integer:  # uniform over the whole numbers low … high
                    x = sp.low + float(u) * (sp.high - sp.low + 1)
                    values[sp.column] = int(min(math.floor(x), sp.high))
                else:
                    values[sp.column] = sp.low + float(u) * (sp.high - sp.low)
            sampled.append(values)
    by_column = {lv.column: lv for lv in levers}
    points = []
    for combo in grid:
        for extra in sampled:
            values = dict(zip(grid_cols, combo, strict=True)) | extra
            values = {k: _cast(v, by_column[k].dtype) for k, v in values.items()}
            points.append(Point(len(points), values))
    return points


def _cast(v: Any, dtype: str) -> Any:
    if dtype == "float64":
        return float(v)
    if dtype == "int64":
        return int(v)
    return v


def _identity(sweep: Sweep) -> str:
    """sha256 over what determines results: base scenario content, levers, points, settings."""
    payload = {
        "base_scenario_sha256": scenario_fingerprint(sweep.base),
        "base_data": sweep.base_data,
        "levers": [[lv.path, lv.column, lv.dtype] for lv in sweep.levers],
        "points": [[p.values[lv.column] for lv in sweep.levers] for p in sweep.points],
        "replications": sweep.replications,
        "seed": str(sweep.seed),
        "chunk_replications": sweep.chunk_replications,
        "block_size": BLOCK_SIZE,
        "parity_version": __version__,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
