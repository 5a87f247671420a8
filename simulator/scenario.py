"""Scenario files: the schema, validated once at the boundary.

A scenario is a TOML (or JSON, same schema) file describing an organisation's grade ladder,
its initial headcount by grade and sex, the annual flows (attrition, promotion, recruitment),
dated policies that change any of them, named groups of grades, and targets on the women's
share. ``docs/scenario-format.md`` documents every field with an annotated example.

Validation is done here with pydantic v2 (``extra="forbid"``: unknown keys are errors). Every
problem is collected and raised at once as a :class:`~simulator.errors.ScenarioError`. The
engines never see this model: :func:`simulator.compiled.compile_scenario` turns it into arrays.

Provenance: every block that carries numbers (grades with an establishment, initial headcount,
attrition, promotion steps, recruitment, policies, targets) must name either a ``source``
(an id in ``[sources]``) or an ``assumption`` (a sentence saying what is assumed and why), or
both. A value without either is rejected.

Time-varying values (``women_share``, ``intake``, ``establishment``, ...) accept three forms:

* a number — constant over the horizon;
* a table of years, ``{2024 = 0.25, 2027 = 0.30}`` — a step function: the value of the latest
  year not after the simulated year holds; the first year must not be after the first
  simulated year (``start_year + 1``);
* a ramp, ``{from_year = 2026, to_year = 2030, start = 0.25, end = 0.40}`` — ``start`` up to
  ``from_year``, linear in between, ``end`` from ``to_year`` on.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from simulator.agents_options import AgentOptions, validate_agent_options
from simulator.errors import Issue, ScenarioError, issues_from_pydantic
from simulator.rng import SEED_LIMIT

# --------------------------------------------------------------------------------------------
# Hard bounds: they stop a crafted file from pinning a machine.
# --------------------------------------------------------------------------------------------
MAX_HORIZON_YEARS = 100
MAX_GRADES = 30
MAX_REPLICATIONS = 100_000
MAX_CELL_HEADCOUNT = 1_000_000_000
MAX_TENURE_PROFILE = 60
#: Upper bound of women's relative odds (promotion, deployment), in a file and after policies.
MAX_WOMEN_ODDS = 1000.0
MAX_LIST_ITEMS = 500
MIN_YEAR, MAX_YEAR = 1900, 2200
MAX_FILE_BYTES = 1_000_000

SEXES = ("women", "men")
RESERVED_POPULATIONS = (
    "workforce",
    "intake",
    "conscription_completers",
    "contract_signers",
    "deployed",
)
#: Populations of the conscription funnel (a scenario with ``[conscription]``): the year's
#: conscripts, those who complete their service, and those who then sign a contract.
#: ``conscripts`` is reserved only when the scenario has a funnel (a pipeline *grade* may
#: carry that name otherwise); the deployed are ``deployed`` (all pools) and ``deployed.<id>``.
FUNNEL_POPULATIONS = ("conscripts", "conscription_completers", "contract_signers")

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Headcount = Annotated[int, Field(ge=0, le=MAX_CELL_HEADCOUNT)]
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Text = Annotated[str, Field(max_length=4000)]
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]


# --------------------------------------------------------------------------------------------
# Time series
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """A value over years: constant, step table or linear ramp (see module docstring)."""

    kind: Literal["constant", "steps", "ramp"]
    constant: float = 0.0
    steps: tuple[tuple[int, float], ...] = ()
    from_year: int = 0
    to_year: int = 0
    start: float = 0.0
    end: float = 0.0

    def at(self, year: int) -> float:
        """Return the value in force in ``year``."""
        if self.kind == "constant":
            return self.constant
        if self.kind == "steps":
            value = self.steps[0][1]
            for y, v in self.steps:
                if y <= year:
                    value = v
            return value
        if year <= self.from_year:
            return self.start
        if year >= self.to_year:
            return self.end
        frac = (year - self.from_year) / (self.to_year - self.from_year)
        return self.start + frac * (self.end - self.start)

    def first_year(self) -> int | None:
        """Return the first year the series defines (``None`` when defined for all years)."""
        return self.steps[0][0] if self.kind == "steps" else None

    def to_plain(self) -> Any:
        """Return the series in the form a scenario file writes it."""
        if self.kind == "constant":
            return self.constant
        if self.kind == "steps":
            return {str(y): v for y, v in self.steps}
        return {
            "from_year": self.from_year,
            "to_year": self.to_year,
            "start": self.start,
            "end": self.end,
        }


def _series_parser(lo: float, hi: float, what: str):
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"must be a number ({what})")
        v = float(v)
        if not math.isfinite(v) or v < lo or v > hi:
            raise ValueError(f"must be between {lo:g} and {hi:g} ({what})")
        return v

    def parse(value: Any) -> Series:
        if isinstance(value, Series):
            return value
        if isinstance(value, bool):
            raise ValueError(f"must be a number, a table of years or a ramp ({what})")
        if isinstance(value, int | float):
            return Series("constant", constant=check(value))
        if isinstance(value, dict):
            keys = set(value)
            ramp_keys = {"from_year", "to_year", "start", "end"}
            if keys & ramp_keys:
                if keys != ramp_keys:
                    missing = sorted(ramp_keys - keys)
                    extra = sorted(keys - ramp_keys)
                    raise ValueError(
                        "a ramp needs exactly from_year, to_year, start, end"
                        + (f"; missing {missing}" if missing else "")
                        + (f"; unknown {extra}" if extra else "")
                    )
                fy, ty = value["from_year"], value["to_year"]
                for name, y in (("from_year", fy), ("to_year", ty)):
                    if (
                        isinstance(y, bool)
                        or not isinstance(y, int)
                        or not MIN_YEAR <= y <= MAX_YEAR
                    ):
                        raise ValueError(f"ramp {name} must be a year {MIN_YEAR}-{MAX_YEAR}")
                if ty <= fy:
                    raise ValueError("ramp to_year must be after from_year")
                return Series(
                    "ramp",
                    from_year=fy,
                    to_year=ty,
                    start=check(value["start"]),
                    end=check(value["end"]),
                )
            if not value:
                raise ValueError("a table of years must not be empty")
            if len(value) > MAX_HORIZON_YEARS * 2:
                raise ValueError(f"at most {MAX_HORIZON_YEARS * 2} years in a table")
            steps = []
            for k, v in value.items():
                if not (isinstance(k, str) and k.isdigit() and MIN_YEAR <= int(k) <= MAX_YEAR):
                    raise ValueError(
                        f"table keys must be years {MIN_YEAR}-{MAX_YEAR} "
                        f"(or use a ramp: from_year, to_year, start, end); got key {k!r}"
                    )
                steps.append((int(k), check(v)))
            return Series("steps", steps=tuple(sorted(steps)))
        raise ValueError(f"must be a number, a table of years or a ramp ({what})")

    return BeforeValidator(parse)


ShareSeries = Annotated[Series, _series_parser(0.0, 1.0, "a share from 0 to 1")]
CountSeries = Annotated[Series, _series_parser(0.0, MAX_CELL_HEADCOUNT, "a headcount")]
RateSeries = Annotated[Series, _series_parser(-0.5, 1.0, "an annual growth rate")]


# --------------------------------------------------------------------------------------------
# Values with several accepted forms: parsed by hand so that errors read cleanly.
# --------------------------------------------------------------------------------------------
_IDENT_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
TENURE_KEYWORDS = ("steady", "entry", "open")


def _probability(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number from 0 to 1")
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} must be from 0 to 1")
    return value


def _probability_list(value: list[Any], what: str) -> list[float]:
    if not 1 <= len(value) <= MAX_TENURE_PROFILE:
        raise ValueError(f"{what} must have 1 to {MAX_TENURE_PROFILE} entries (got {len(value)})")
    return [_probability(v, f"entry {i}") for i, v in enumerate(value)]


def _parse_profile(value: Any) -> float | list[float]:
    """An annual probability, or a list of them by completed years in grade."""
    if isinstance(value, list):
        return _probability_list(value, "the list")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(
            "must be an annual probability from 0 to 1, or a list of them "
            "(one per completed year in grade, the last holding for later years)"
        )
    return _probability(value, "an annual probability")  # message names the allowed range


def _parse_one_tenure(value: Any, what: str) -> str | list[float]:
    if isinstance(value, str):
        if value not in TENURE_KEYWORDS:
            raise ValueError(f"must be one of {list(TENURE_KEYWORDS)} or a list of shares")
        return value
    if isinstance(value, list):
        shares = _probability_list(value, "the list")
        if abs(sum(shares) - 1.0) > 1e-6:
            raise ValueError(f"shares {what}must sum to 1 (they sum to {sum(shares):.6g})")
        return shares
    raise ValueError(
        "must be 'steady', 'entry', 'open', a list of shares by completed years in "
        "grade, or a table {women = ..., men = ...} of those"
    )


def _parse_tenure(value: Any) -> str | list[float] | dict[str, str | list[float]]:
    """How a grade's initial headcount is spread over completed years in grade."""
    if isinstance(value, dict):
        if set(value) != {"women", "men"}:
            raise ValueError("a table of years_in_grade needs exactly the keys women and men")
        return {sx: _parse_one_tenure(value[sx], f"for {sx} ") for sx in SEXES}
    return _parse_one_tenure(value, "")


def _parse_source_refs(value: Any) -> str | list[str] | None:
    """A source id, or a list of source ids."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > 20:
        raise ValueError("source must be an id in [sources] or a list of 1 to 20 ids")
    for item in items:
        if not isinstance(item, str) or not _IDENT_RE.match(item):
            raise ValueError(
                "source must be an id (letters, digits, _ . -) in [sources], or a list of ids"
            )
    return value


AttritionValue = Annotated[float | list[float], BeforeValidator(_parse_profile)]
TenureSpec = Annotated[
    str | list[float] | dict[str, str | list[float]], BeforeValidator(_parse_tenure)
]
SourceRefs = Annotated[str | list[str] | None, BeforeValidator(_parse_source_refs)]


def source_ids(block: Any) -> list[str]:
    """The source ids a block cites (empty when it cites none)."""
    ref = getattr(block, "source", None)
    if ref is None:
        return []
    return [ref] if isinstance(ref, str) else list(ref)


# --------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------
class Strict(BaseModel):
    """Base: unknown keys are errors; models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(Strict):
    """A block whose numbers come from a publication (``source``) or are assumed."""

    source: SourceRefs = Field(None, description="Id (or list of ids) of entries in [sources].")
    locator: Text | None = Field(None, description="Page, table or line in the source.")
    assumption: Text | None = Field(None, description="What is assumed, and why.")

    @model_validator(mode="after")
    def _needs_provenance(self) -> Sourced:
        if self.source is None and not (self.assumption and self.assumption.strip()):
            raise ValueError(
                "needs a source (an id in [sources]) or an assumption (a sentence saying what "
                "is assumed); every number must say where it comes from"
            )
        return self


class Source(Strict):
    """A publication that figures are taken from."""

    title: Text
    publisher: Text | None = None
    year: Year | None = None
    locator: Text | None = Field(None, description="Default page or line locator.")
    url: Text | None = None
    quote: Text | None = None
    note: Text | None = None


class Grade(Strict):
    """One rung of the ladder; index 0 is the entry grade, the last is the top."""

    id: Ident
    label: Text | None = None
    workforce: bool = Field(True, description="Counted in the workforce (False: pipeline).")
    establishment: CountSeries | None = Field(
        None, description="Authorised posts (headcount) over time; needed for vacancy mode."
    )
    source: SourceRefs = None
    locator: Text | None = None
    assumption: Text | None = None

    @model_validator(mode="after")
    def _provenance_if_establishment(self) -> Grade:
        if (
            self.establishment is not None
            and self.source is None
            and not (self.assumption and self.assumption.strip())
        ):
            raise ValueError("a grade with an establishment needs a source or an assumption")
        return self


class Initial(Sourced):
    """Initial (end of ``start_year``) headcount of one grade, by sex.

    Give ``women`` and ``men`` (counts), or ``total`` and ``women_share``; in the latter case
    women = round(total x women_share) and men = total - women.
    """

    grade: Ident
    women: Headcount | None = None
    men: Headcount | None = None
    total: Headcount | None = None
    women_share: Probability | None = None
    years_in_grade: TenureSpec = Field(
        "steady",
        description=(
            "How the headcount is spread over completed years in grade: 'steady' (the "
            "steady-state profile under the grade's first-year rates), 'entry' (all 0), "
            "'open' (all in the open-ended top bucket), a list of shares for 0, 1, 2, ... "
            "years, or a table {women = ..., men = ...} of those forms (one per sex)"
        ),
    )

    @model_validator(mode="after")
    def _one_form(self) -> Initial:
        counts = self.women is not None or self.men is not None
        share = self.total is not None or self.women_share is not None
        if counts and share:
            raise ValueError("give either women and men, or total and women_share, not both")
        if counts and (self.women is None or self.men is None):
            raise ValueError("give both women and men")
        if share and (self.total is None or self.women_share is None):
            raise ValueError("give both total and women_share")
        if not counts and not share:
            raise ValueError("give women and men, or total and women_share")
        return self

    def spread(self, sex: str) -> str | list[float]:
        """The years-in-grade spread for one sex ('women' or 'men')."""
        spec = self.years_in_grade
        return spec[sex] if isinstance(spec, dict) else spec

    def counts(self) -> tuple[int, int]:
        """Return (women, men)."""
        if self.women is not None and self.men is not None:
            return self.women, self.men
        total = self.total or 0
        women = round(total * (self.women_share or 0.0))
        return women, total - women


class Attrition(Sourced):
    """Annual probability of leaving (all separations, retirement included), by sex.

    A number applies at every year in grade; a list gives the probability for 0, 1, 2, ...
    completed years in grade, the last entry holding for all later years.
    """

    grade: Ident
    women: AttritionValue
    men: AttritionValue


class BySex(Strict):
    """A pair of annual probabilities, one per sex."""

    women: Probability
    men: Probability


class Promotion(Sourced):
    """The promotion step into grade ``to`` from the grade below it.

    ``mode = "rate"``: each eligible person is promoted with an annual probability
    (``probability``), the women's odds multiplied by ``women_odds``.
    ``mode = "vacancy"``: vacancies in ``to`` (establishment minus headcount) are filled, a
    ``lateral_share`` from outside, the rest from the eligible persons of the grade below by
    weighted selection (odds ``women_odds`` for a woman vs a man), with an optional floor on
    women's share of those promotions (``women_floor``) met only as far as eligible women exist.
    """

    to: Ident
    mode: Literal["rate", "vacancy"]
    probability: BySex | None = Field(None, description="Rate mode: annual probability by sex.")
    min_years_in_grade: Annotated[int, Field(ge=0, le=MAX_TENURE_PROFILE)] = 0
    women_odds: Annotated[float, Field(gt=0.0, le=MAX_WOMEN_ODDS, allow_inf_nan=False)] = 1.0
    women_floor: Probability = 0.0
    when_floor_short: Literal["fill_with_men", "leave_vacant"] = "fill_with_men"
    lateral_share: Probability = 0.0
    lateral_women_share: Probability | None = None

    @model_validator(mode="after")
    def _mode_fields(self) -> Promotion:
        if self.mode == "rate" and self.probability is None:
            raise ValueError("mode 'rate' needs probability = { women = ..., men = ... }")
        if self.mode == "vacancy" and self.probability is not None:
            raise ValueError("probability applies to mode 'rate' only (vacancy mode fills posts)")
        if self.mode == "rate" and (self.women_floor > 0 or self.lateral_share > 0):
            raise ValueError(
                "women_floor and lateral_share apply to mode 'vacancy' (posts to fill); "
                "use mode = 'vacancy' with an establishment on the grade"
            )
        if self.lateral_share > 0 and self.lateral_women_share is None:
            raise ValueError("lateral_share > 0 needs lateral_women_share")
        return self


class Recruitment(Sourced):
    """Intake into the entry grade (index 0).

    ``fixed``: ``intake`` persons a year. ``replace``: refill the entry grade to its
    establishment. ``growth``: recruit so that the total headcount of all grades follows its
    start value grown by ``growth_rate`` a year (0 = the fixed-size renewal model).
    Women are ``women_share`` of the intake (the stochastic engine draws them binomially).
    ``conscription``: the intake is the contract signers of the ``[conscription]`` funnel
    (by sex, so ``women_share`` is not given).
    """

    mode: Literal["fixed", "replace", "growth", "conscription"]
    intake: CountSeries | None = None
    growth_rate: RateSeries | None = None
    women_share: ShareSeries | None = None

    @model_validator(mode="after")
    def _mode_fields(self) -> Recruitment:
        if self.mode == "fixed" and self.intake is None:
            raise ValueError("mode 'fixed' needs intake (a number, a table of years or a ramp)")
        if self.mode != "fixed" and self.intake is not None:
            raise ValueError(f"intake applies to mode 'fixed' only (mode is {self.mode!r})")
        if self.mode == "growth" and self.growth_rate is None:
            raise ValueError("mode 'growth' needs growth_rate (annual, e.g. 0.02)")
        if self.mode != "growth" and self.growth_rate is not None:
            raise ValueError(f"growth_rate applies to mode 'growth' only (mode is {self.mode!r})")
        if self.mode == "conscription" and self.women_share is not None:
            raise ValueError(
                "mode 'conscription' takes women and men from the [conscription] funnel; "
                "remove women_share"
            )
        if self.mode != "conscription" and self.women_share is None:
            raise ValueError(f"mode {self.mode!r} needs women_share (a share from 0 to 1)")
        return self


PolicyParameter = Literal[
    "attrition",
    "promotion.probability",
    "promotion.women_odds",
    "promotion.women_floor",
    "promotion.lateral_share",
    "promotion.lateral_women_share",
    "establishment",
    "recruitment.intake",
    "recruitment.women_share",
    "recruitment.growth_rate",
    "conscription.places",
    "conscription.women_summoned",
    "conscription.volunteer_share",
    "conscription.contract_share",
    "deployment.demand",
    "deployment.women_odds",
    "deployment.women_floor",
]
#: Parameters indexed by grade (for promotion.*, the grade promoted *into*) and/or by sex.
GRADE_PARAMETERS = {
    "attrition",
    "promotion.probability",
    "promotion.women_odds",
    "promotion.women_floor",
    "promotion.lateral_share",
    "promotion.lateral_women_share",
    "establishment",
}
SEX_PARAMETERS = {
    "attrition",
    "promotion.probability",
    "conscription.volunteer_share",
    "conscription.contract_share",
}
#: Parameters of the ``[[deployments]]`` pools (narrowed with ``deployments``).
DEPLOYMENT_PARAMETERS = {"deployment.demand", "deployment.women_odds", "deployment.women_floor"}


class Policy(Sourced):
    """A dated change of one parameter: ``set`` it to a value or ``scale`` it by a factor.

    It takes effect in the step of ``from_year`` (a policy dated mid-year applies from the
    first step it covers: give that year). With ``to_year`` the change ramps in linearly,
    reaching its full value in ``to_year``. ``grades`` (ids or group ids) and ``sexes`` narrow
    it; by default it applies to every grade and both sexes the parameter has.
    """

    id: Ident
    label: Text | None = None
    parameter: PolicyParameter
    from_year: Year
    to_year: Year | None = None
    set: Annotated[float, Field(ge=0.0, le=MAX_CELL_HEADCOUNT, allow_inf_nan=False)] | None = None
    scale: Annotated[float, Field(ge=0.0, le=1000.0, allow_inf_nan=False)] | None = None
    grades: Annotated[list[Ident], Field(max_length=MAX_GRADES * 2)] | None = None
    sexes: Annotated[list[Literal["women", "men"]], Field(min_length=1, max_length=2)] | None = None
    years_in_grade: (
        Annotated[
            list[Annotated[int, Field(ge=0, le=MAX_TENURE_PROFILE)]],
            Field(min_length=1, max_length=MAX_TENURE_PROFILE + 1),
        ]
        | None
    ) = None
    deployments: Annotated[list[Ident], Field(min_length=1, max_length=MAX_GRADES)] | None = None

    @model_validator(mode="after")
    def _one_change(self) -> Policy:
        if (self.set is None) == (self.scale is None):
            raise ValueError("give exactly one of set (a new value) or scale (a factor)")
        if self.to_year is not None and self.to_year <= self.from_year:
            raise ValueError("to_year must be after from_year")
        if self.grades is not None and self.parameter not in GRADE_PARAMETERS:
            raise ValueError(f"parameter {self.parameter!r} is not by grade; remove grades")
        if self.sexes is not None and self.parameter not in SEX_PARAMETERS:
            raise ValueError(f"parameter {self.parameter!r} is not by sex; remove sexes")
        if self.years_in_grade is not None and self.parameter != "attrition":
            raise ValueError("years_in_grade narrows only parameter 'attrition'")
        if self.deployments is not None and self.parameter not in DEPLOYMENT_PARAMETERS:
            raise ValueError("deployments narrows only the deployment.* parameters")
        return self


class Target(Sourced):
    """A target on the women's share of a population at a deadline (a year-end)."""

    id: Ident
    label: Text | None = None
    population: Ident = Field(description="A grade id, a group id, 'workforce' or 'intake'.")
    comparator: Literal["at_least", "at_most", "between"]
    value: Probability | None = None
    low: Probability | None = None
    high: Probability | None = None
    deadline: Year
    sustained: bool = Field(False, description="Must hold from the deadline to the end.")

    @model_validator(mode="after")
    def _values(self) -> Target:
        if self.comparator == "between":
            if self.low is None or self.high is None or self.value is not None:
                raise ValueError("comparator 'between' needs low and high (and no value)")
            if self.low > self.high:
                raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        elif self.value is None or self.low is not None or self.high is not None:
            raise ValueError(f"comparator {self.comparator!r} needs value (and no low/high)")
        return self

    def describe(self) -> str:
        """Return e.g. 'women >= 20% of leaders by 2030'."""
        if self.comparator == "between":
            cond = f"{self.low:.0%}-{self.high:.0%}"
        else:
            cond = ("≥ " if self.comparator == "at_least" else "≤ ") + f"{self.value:.0%}"
        extra = " (sustained)" if self.sustained else ""
        return f"women {cond} of {self.population} by {self.deadline}{extra}"


class Observed(Strict):
    """A published women's share of a population at a year-end (a stock; for a funnel stage or
    the deployed, the year's flow).

    Drawn beside the projection (the charts' black squares, the report) with its source; never
    an input of the engines. Only figures the source states belong here (a share derived by
    the modeller, or a headcount's source, does not make a share published).
    """

    population: Ident = Field(
        description="A grade id, a group id, 'workforce' or a pipeline population."
    )
    year: Year = Field(description="The year-end the figure describes, within the horizon.")
    women_share: Probability
    source: SourceRefs = Field(description="Id (or list of ids) of entries in [sources].")
    locator: Text = Field(description="Page, table or line of the figure in the source.")
    quote: Text | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _cited(self) -> Observed:
        if self.source is None:
            raise ValueError("a published figure needs its source (an id in [sources])")
        return self


MAX_POSTERIOR_DRAWS = 5000
MAX_POSTERIOR_PARAMETERS = 60


class Posterior(Strict):
    """A sample of parameter sets from a calibration (what ``parity calibrate`` writes).

    Each row of ``draws`` gives one value per entry of ``parameters`` (parameter paths as in
    sweep files, e.g. ``attrition[grade=officers].women``). The rows are equally weighted
    draws from the posterior. The scenario's own values are the point estimate; a stochastic
    run draws one row per replication (``parity run --no-parameter-uncertainty`` keeps the
    point estimate), so a target's probability carries parameter as well as Monte Carlo
    uncertainty. Paths and values are checked when the scenario is compiled.
    """

    method: Text = Field(description="How the sample was obtained (e.g. SIR over a Sobol design).")
    problem: Text | None = Field(None, description="The calibration problem file it came from.")
    created_utc: Text | None = None
    parameters: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=300)]],
        Field(min_length=1, max_length=MAX_POSTERIOR_PARAMETERS),
    ]
    draws: Annotated[
        list[
            Annotated[
                list[Annotated[float, Field(allow_inf_nan=False)]],
                Field(min_length=1, max_length=MAX_POSTERIOR_PARAMETERS),
            ]
        ],
        Field(min_length=1, max_length=MAX_POSTERIOR_DRAWS),
    ]
    point: (
        Annotated[
            list[Annotated[float, Field(allow_inf_nan=False)]],
            Field(min_length=1, max_length=MAX_POSTERIOR_PARAMETERS),
        ]
        | None
    ) = Field(
        None,
        description=(
            "The point estimate at each path, as calibrated. Where the scenario's value now "
            "differs (an edit or a lever), every draw is shifted by the difference."
        ),
    )
    note: Text | None = None

    @model_validator(mode="after")
    def _rectangular(self) -> Posterior:
        n = len(self.parameters)
        if len(set(self.parameters)) != n:
            raise ValueError("parameters must not repeat a path")
        if self.point is not None and len(self.point) != n:
            raise ValueError(
                f"point has {len(self.point)} values; it needs one per parameter ({n})"
            )
        for i, row in enumerate(self.draws):
            if len(row) != n:
                raise ValueError(
                    f"draws[{i}] has {len(row)} values; every draw needs one per parameter ({n})"
                )
        return self


# --------------------------------------------------------------------------------------------
# Conscription funnel and deployment pools (docs/conscription.md, simulator/pipeline.py)
# --------------------------------------------------------------------------------------------
MonthsSeries = Annotated[Series, _series_parser(0.0, 36.0, "months of service")]
ALL_SUMMONED = Series("constant", constant=1.0)


class SexShares(Strict):
    """A share from 0 to 1 for each sex; each a series over years (number, table or ramp)."""

    women: ShareSeries
    men: ShareSeries


class SexCounts(Strict):
    """A headcount for each sex; each a series over years (number, table or ramp)."""

    women: CountSeries
    men: CountSeries


class Dropout(Strict):
    """Share of a year's conscripts who do not complete their service, by regime and sex.

    Per service spell (not annual): volunteers and drafted persons drop out at different rates.
    """

    volunteers: SexShares
    drafted: SexShares


def _parse_date(value: Any) -> str:
    """A calendar date (TOML date or 'YYYY-MM-DD' text), kept as ISO text."""
    import datetime as _dt

    if isinstance(value, _dt.datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, _dt.date):
        day = value
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = _dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not a calendar date: {value!r}") from None
    else:
        raise ValueError("must be a date, e.g. 2025-07-01")
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"the year must be {MIN_YEAR}-{MAX_YEAR}")
    return day.isoformat()


IsoDate = Annotated[str, BeforeValidator(_parse_date)]


class Conscription(Sourced):
    """The conscription funnel: birth cohort → assessment → volunteers and lottery → service.

    Per step y (see ``simulator/pipeline.py`` for the equations): the cohort assessed in y by
    sex; the summoned share of it (men ``men_summoned``; women ``women_summoned`` or, from a
    date, the pro-rata rule of ``women_summoned_from``); fit for service (share by sex);
    volunteers (share of the fit, by sex; women outside the summoned volunteer under
    *værneret*); ``places`` filled by volunteers first (at random, equal odds, if they exceed
    the places), then by a lottery with equal odds among the summoned fit non-volunteers;
    dropout by regime and sex; a ``contract_share`` of the completers signs and enters
    ``entry_grade`` (recruitment mode ``conscription``).
    """

    entry_grade: Ident = Field(description="The professional entry grade fed by the signers.")
    cohort: SexCounts = Field(description="Persons assessed each year (turning 18), by sex.")
    assessment_lag_years: Annotated[int, Field(ge=0, le=5)] = Field(
        1, description="Years from turning 18 to the assessment and the start of service."
    )
    men_summoned: ShareSeries = Field(ALL_SUMMONED, description="Share of men summoned.")
    women_summoned: ShareSeries | None = Field(None, description="Share of women summoned.")
    women_summoned_from: IsoDate | None = Field(
        None, description="Women who turn 18 on or after this date are summoned (pro rata)."
    )
    fit: SexShares = Field(description="Share of the assessed found fit for service.")
    volunteer_share: SexShares = Field(description="Share of the fit who volunteer.")
    places: CountSeries = Field(description="Required intake (places) per year.")
    dropout: Dropout
    contract_share: SexShares = Field(description="Share of completing volunteers who sign.")
    contract_share_drafted: SexShares | None = Field(
        None, description="Share of completing drafted persons who sign (default: as volunteers)."
    )
    service_months: MonthsSeries | None = Field(
        None, description="Length of service (months); documented, does not change the step."
    )

    @model_validator(mode="after")
    def _women_rule(self) -> Conscription:
        if (self.women_summoned is None) == (self.women_summoned_from is None):
            raise ValueError(
                "give exactly one of women_summoned (a share of women summoned per year) or "
                "women_summoned_from (a date: women turning 18 on or after it are summoned)"
            )
        return self


class Deployment(Sourced):
    """A deployment pool: each year ``demand`` persons drawn from the eligible grades.

    Drawn from the end-of-year stock of ``grades`` with at least ``min_years_in_grade``
    completed years; deployment does not remove anyone from a grade. Women are selected with
    relative odds ``women_odds`` (1 = in proportion to the pool; Wallenius), raised to a
    ``women_floor`` share of the deployed as far as eligible women exist.
    """

    id: Ident
    label: Text | None = None
    demand: CountSeries = Field(description="Persons deployed in the year.")
    grades: Annotated[list[Ident], Field(min_length=1, max_length=MAX_GRADES * 2)]
    min_years_in_grade: Annotated[int, Field(ge=0, le=MAX_TENURE_PROFILE)] = 0
    women_odds: Annotated[float, Field(gt=0.0, le=MAX_WOMEN_ODDS, allow_inf_nan=False)] = 1.0
    women_floor: Probability = 0.0


class Simulation(Strict):
    """Defaults for a run (the CLI and app can override them)."""

    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] = 1000
    seed: Annotated[int, Field(ge=0, lt=SEED_LIMIT)] = 20250701
    levers_from_year: Year | None = Field(
        None,
        description=(
            "First year that what-if levers, goal seeks and the reachability bound change "
            "(default start_year + 1). A calibrated scenario that starts in its fitting period "
            "sets it to the year after its last published figure, so levers leave history alone."
        ),
    )


class Scenario(Strict):
    """A complete scenario. See ``docs/scenario-format.md``."""

    schema_version: Literal[1] = 1
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text = ""
    organisation: Annotated[str, Field(max_length=200)] = ""
    start_year: Year
    end_year: Year
    sources: Annotated[dict[Ident, Source], Field(max_length=MAX_LIST_ITEMS)] = {}
    grades: Annotated[list[Grade], Field(min_length=1, max_length=MAX_GRADES)]
    groups: Annotated[
        dict[Ident, Annotated[list[Ident], Field(min_length=1, max_length=MAX_GRADES)]],
        Field(max_length=MAX_LIST_ITEMS),
    ] = {}
    initial: Annotated[list[Initial], Field(min_length=1, max_length=MAX_GRADES)]
    attrition: Annotated[list[Attrition], Field(max_length=MAX_GRADES)]
    promotions: Annotated[list[Promotion], Field(max_length=MAX_GRADES)] = []
    recruitment: Recruitment
    policies: Annotated[list[Policy], Field(max_length=MAX_LIST_ITEMS)] = []
    targets: Annotated[list[Target], Field(max_length=MAX_LIST_ITEMS)] = []
    observed: Annotated[list[Observed], Field(max_length=MAX_LIST_ITEMS)] = []
    simulation: Simulation = Simulation()
    agents: AgentOptions | None = Field(
        None, description="Options of the individual-level engine (docs/agents.md)."
    )
    posterior: Posterior | None = Field(
        None, description="Calibrated parameter sets (parameter uncertainty); see Posterior."
    )
    conscription: Conscription | None = Field(
        None, description="The conscription funnel feeding the entry grade (docs/conscription.md)."
    )
    deployments: Annotated[list[Deployment], Field(max_length=MAX_GRADES)] = []

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        issues = cross_check(self)
        if issues:
            raise _CrossCheckFailed(issues)
        return self

    # Convenience -------------------------------------------------------------------------
    @property
    def grade_ids(self) -> list[str]:
        """Grade ids in ladder order (entry first)."""
        return [g.id for g in self.grades]

    @property
    def first_lever_year(self) -> int:
        """The first year levers change: ``simulation.levers_from_year`` or ``start_year + 1``."""
        y = self.simulation.levers_from_year
        return self.start_year + 1 if y is None else y

    def population_grades(self, population: str) -> list[str]:
        """Return the grade ids a population (grade, group or 'workforce') covers."""
        if population == "workforce":
            return [g.id for g in self.grades if g.workforce]
        if population in self.groups:
            return list(self.groups[population])
        return [population]

    def pipeline_populations(self) -> list[str]:
        """Populations of the funnel and the deployment pools (targets may name them)."""
        out = list(FUNNEL_POPULATIONS) if self.conscription is not None else []
        if self.deployments:
            out += ["deployed", *(f"deployed.{d.id}" for d in self.deployments)]
        return out

    def same_population(self, population: str) -> str:
        """The population's name with one pool's two names made one: with a single deployment
        pool, ``deployed.<its id>`` is ``deployed``; every other name is itself."""
        if len(self.deployments) == 1 and population == f"deployed.{self.deployments[0].id}":
            return "deployed"
        return population


class _CrossCheckFailed(ValueError):
    """Carries cross-reference issues out of the after-validator."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


def cross_check(s: Scenario) -> list[Issue]:
    """Check references between blocks; return every problem found."""
    out: list[Issue] = []
    if s.end_year <= s.start_year:
        out.append(Issue("end_year", "must be after start_year", s.end_year))
    elif s.end_year - s.start_year > MAX_HORIZON_YEARS:
        out.append(Issue("end_year", f"horizon is at most {MAX_HORIZON_YEARS} years", s.end_year))
    ids = [g.id for g in s.grades]
    index = {gid: i for i, gid in enumerate(ids)}
    for i, gid in enumerate(ids):
        if ids.index(gid) != i:
            out.append(Issue(f"grades[{i}].id", "duplicate grade id", gid))
        if gid in RESERVED_POPULATIONS:
            out.append(Issue(f"grades[{i}].id", f"{gid!r} is reserved", gid))
    for name, members in s.groups.items():
        if name in index or name in RESERVED_POPULATIONS:
            out.append(
                Issue(f"groups.{name}", "group id clashes with a grade or reserved id", name)
            )
        for j, m in enumerate(members):
            if m not in index:
                out.append(Issue(f"groups.{name}[{j}]", f"unknown grade; grades are {ids}", m))

    def source_ref(path: str, block: Any) -> None:
        for ref in source_ids(block):
            if ref not in s.sources:
                out.append(
                    Issue(
                        f"{path}.source", f"unknown source; [sources] has {sorted(s.sources)}", ref
                    )
                )

    for i, g in enumerate(s.grades):
        source_ref(f"grades[{i}]", g)
        first = g.establishment.first_year() if g.establishment else None
        if first is not None and first > s.start_year + 1:
            out.append(
                Issue(
                    f"grades[{i}].establishment",
                    f"the first year must be at most {s.start_year + 1} (the first simulated year)",
                    first,
                )
            )

    seen: dict[str, int] = {}
    for i, block in enumerate(s.initial):
        source_ref(f"initial[{i}]", block)
        if block.grade not in index:
            out.append(
                Issue(f"initial[{i}].grade", f"unknown grade; grades are {ids}", block.grade)
            )
        elif block.grade in seen:
            out.append(
                Issue(f"initial[{i}].grade", "grade given twice in [[initial]]", block.grade)
            )
        seen[block.grade] = i
    for gid in ids:
        if gid not in seen:
            out.append(Issue("initial", f"grade {gid!r} has no [[initial]] headcount", None))

    seen_a: set[str] = set()
    for i, block in enumerate(s.attrition):
        source_ref(f"attrition[{i}]", block)
        if block.grade not in index:
            out.append(
                Issue(f"attrition[{i}].grade", f"unknown grade; grades are {ids}", block.grade)
            )
        elif block.grade in seen_a:
            out.append(
                Issue(f"attrition[{i}].grade", "grade given twice in [[attrition]]", block.grade)
            )
        seen_a.add(block.grade)
    for gid in ids:
        if gid not in seen_a:
            out.append(Issue("attrition", f"grade {gid!r} has no [[attrition]] entry", None))

    seen_p: set[str] = set()
    for i, block in enumerate(s.promotions):
        source_ref(f"promotions[{i}]", block)
        if block.to not in index:
            out.append(Issue(f"promotions[{i}].to", f"unknown grade; grades are {ids}", block.to))
            continue
        if index[block.to] == 0:
            out.append(
                Issue(f"promotions[{i}].to", "the entry grade is filled by recruitment", block.to)
            )
        if block.to in seen_p:
            out.append(Issue(f"promotions[{i}].to", "two promotion steps into one grade", block.to))
        seen_p.add(block.to)
        if block.mode == "vacancy" and s.grades[index[block.to]].establishment is None:
            out.append(
                Issue(
                    f"promotions[{i}].mode",
                    f"vacancy mode needs an establishment on grade {block.to!r}",
                    block.mode,
                )
            )
    for gid in ids[1:]:
        if gid not in seen_p:
            out.append(
                Issue(
                    "promotions", f"grade {gid!r} has no [[promotions]] step (to = {gid!r})", None
                )
            )

    source_ref("recruitment", s.recruitment)
    if s.recruitment.mode == "replace" and s.grades[0].establishment is None:
        out.append(
            Issue(
                "recruitment.mode",
                f"'replace' needs an establishment on the entry grade {ids[0]!r}",
                "replace",
            )
        )
    for name in ("intake", "women_share", "growth_rate"):
        series = getattr(s.recruitment, name)
        first = series.first_year() if series is not None else None
        if first is not None and first > s.start_year + 1:
            out.append(
                Issue(
                    f"recruitment.{name}",
                    f"the first year must be at most {s.start_year + 1} (the first simulated year)",
                    first,
                )
            )

    populations = set(ids) | set(s.groups) | {"workforce", "intake"}
    populations |= set(s.pipeline_populations())
    pol_ids: set[str] = set()
    for i, p in enumerate(s.policies):
        source_ref(f"policies[{i}]", p)
        if p.id in pol_ids:
            out.append(Issue(f"policies[{i}].id", "duplicate policy id", p.id))
        pol_ids.add(p.id)
        for j, gid in enumerate(p.grades or []):
            if gid not in index and gid not in s.groups:
                out.append(Issue(f"policies[{i}].grades[{j}]", "unknown grade or group", gid))
        if p.parameter.startswith("recruitment.") and p.parameter != "recruitment.women_share":
            needed = p.parameter.split(".", 1)[1]
            mode_for = {"intake": "fixed", "growth_rate": "growth"}[needed]
            if s.recruitment.mode != mode_for:
                out.append(
                    Issue(
                        f"policies[{i}].parameter",
                        f"{p.parameter} needs recruitment mode {mode_for!r} "
                        f"(the scenario uses {s.recruitment.mode!r})",
                        p.parameter,
                    )
                )
        is_share = p.parameter == "recruitment.women_share" or (
            p.parameter.startswith("promotion.") and p.parameter != "promotion.women_odds"
        )
        if is_share and p.set is not None and p.set > 1:
            out.append(Issue(f"policies[{i}].set", f"{p.parameter} is a share (0 to 1)", p.set))
        if p.from_year > s.end_year:
            out.append(
                Issue(f"policies[{i}].from_year", f"after end_year {s.end_year}", p.from_year)
            )

    seen_observed: set[tuple[str, int]] = set()
    for i, o in enumerate(s.observed):
        source_ref(f"observed[{i}]", o)
        if o.population not in populations or o.population == "intake":
            out.append(
                Issue(
                    f"observed[{i}].population",
                    (
                        "'intake' has no chart to draw a figure on; "
                        if o.population == "intake"
                        else "unknown population; "
                    )
                    + f"use a grade {ids}, a group {sorted(s.groups)}, "
                    "'workforce'" + "".join(f", {p!r}" for p in s.pipeline_populations()),
                    o.population,
                )
            )
        if not s.start_year <= o.year <= s.end_year:
            out.append(
                Issue(
                    f"observed[{i}].year",
                    f"must lie within {s.start_year}-{s.end_year} (the horizon the charts show)",
                    o.year,
                )
            )
        elif o.year == s.start_year and o.population in FUNNEL_POPULATIONS and s.conscription:
            out.append(
                Issue(
                    f"observed[{i}].year",
                    f"the funnel's stages are the flows of the projection years "
                    f"{s.start_year + 1}-{s.end_year}: the model has no {o.population} in the "
                    "start year to compare with",
                    o.year,
                )
            )
        same = s.same_population(o.population)  # one pool: 'deployed' = 'deployed.<id>'
        if (same, o.year) in seen_observed:
            out.append(
                Issue(
                    f"observed[{i}].year",
                    f"a second figure for {o.population!r} in the same year"
                    + (
                        " (with one pool, 'deployed' and 'deployed.<id>' are one population)"
                        if len(s.deployments) == 1 and same == "deployed"
                        else ""
                    ),
                    o.year,
                )
            )
        seen_observed.add((same, o.year))

    tgt_ids: set[str] = set()
    for i, t in enumerate(s.targets):
        source_ref(f"targets[{i}]", t)
        if t.id in tgt_ids:
            out.append(Issue(f"targets[{i}].id", "duplicate target id", t.id))
        tgt_ids.add(t.id)
        if t.population not in populations:
            out.append(
                Issue(
                    f"targets[{i}].population",
                    f"unknown population; use a grade {ids}, a group {sorted(s.groups)}, "
                    "'workforce', 'intake'" + "".join(f", {p!r}" for p in s.pipeline_populations()),
                    t.population,
                )
            )
        # A flow (the intake, a funnel stage) happens in a step: it has no start-year value.
        flow = t.population == "intake" or (
            s.conscription is not None and t.population in FUNNEL_POPULATIONS
        )
        first = s.start_year + 1 if flow else s.start_year
        if not first <= t.deadline <= s.end_year:
            out.append(
                Issue(
                    f"targets[{i}].deadline",
                    f"must lie within {first}-{s.end_year}"
                    + (
                        f" ({t.population!r} is a flow: its first year is the first step)"
                        if flow
                        else " (the horizon)"
                    ),
                    t.deadline,
                )
            )
    if not any(g.workforce for g in s.grades):
        out.append(Issue("grades", "at least one grade must be counted in the workforce", None))
    lf = s.simulation.levers_from_year
    if lf is not None and not s.start_year + 1 <= lf <= s.end_year:
        out.append(
            Issue(
                "simulation.levers_from_year",
                f"must lie within the projection {s.start_year + 1}-{s.end_year}",
                lf,
            )
        )
    if s.agents is not None:
        out += validate_agent_options(s.agents, s)
    out += _pipeline_cross_check(s)
    return out


def _pipeline_cross_check(s: Scenario) -> list[Issue]:
    """Cross-references of ``[conscription]``, ``[[deployments]]`` and their policies."""
    out: list[Issue] = []
    ids = s.grade_ids
    c = s.conscription
    for path, block in [
        ("conscription", c),
        *((f"deployments[{i}]", d) for i, d in enumerate(s.deployments)),
    ]:
        for ref in source_ids(block) if block is not None else []:
            if ref not in s.sources:
                out.append(
                    Issue(
                        f"{path}.source", f"unknown source; [sources] has {sorted(s.sources)}", ref
                    )
                )
    if c is not None and s.recruitment.mode != "conscription":
        out.append(
            Issue(
                "recruitment.mode",
                "a [conscription] funnel feeds the entry grade: use recruitment mode "
                "'conscription'",
                s.recruitment.mode,
            )
        )
    if c is None and s.recruitment.mode == "conscription":
        out.append(Issue("conscription", "recruitment mode 'conscription' needs [conscription]"))
    if c is not None:
        if c.entry_grade != ids[0]:
            out.append(
                Issue(
                    "conscription.entry_grade",
                    f"the signers enter the entry grade, the first grade {ids[0]!r}",
                    c.entry_grade,
                )
            )
        for name in ("places", "men_summoned", "women_summoned", "service_months"):
            series = getattr(c, name)
            first = series.first_year() if series is not None else None
            if first is not None and first > s.start_year + 1:
                out.append(
                    Issue(
                        f"conscription.{name}",
                        f"the first year must be at most {s.start_year + 1} "
                        "(the first simulated year)",
                        first,
                    )
                )
    taken = set(ids) | set(s.groups)
    for name in s.pipeline_populations():
        if name in taken:
            out.append(
                Issue(
                    "grades",
                    f"{name!r} is a population of the funnel or deployment "
                    "pools; rename the grade or group",
                    name,
                )
            )
    seen: set[str] = set()
    for i, d in enumerate(s.deployments):
        if d.id in seen:
            out.append(Issue(f"deployments[{i}].id", "duplicate deployment id", d.id))
        seen.add(d.id)
        for j, gid in enumerate(d.grades):
            if gid not in ids and gid not in s.groups:
                out.append(Issue(f"deployments[{i}].grades[{j}]", "unknown grade or group", gid))
        first = d.demand.first_year()
        if first is not None and first > s.start_year:
            out.append(
                Issue(
                    f"deployments[{i}].demand",
                    f"the first year must be at most {s.start_year} (the start year is "
                    "deployed too)",
                    first,
                )
            )
    share_parameters = {
        "conscription.women_summoned",
        "conscription.volunteer_share",
        "conscription.contract_share",
        "deployment.women_floor",
    }
    for i, p in enumerate(s.policies):
        if p.parameter.startswith("conscription.") and c is None:
            out.append(
                Issue(
                    f"policies[{i}].parameter", f"{p.parameter} needs [conscription]", p.parameter
                )
            )
        if p.parameter.startswith("deployment.") and not s.deployments:
            out.append(
                Issue(
                    f"policies[{i}].parameter", f"{p.parameter} needs [[deployments]]", p.parameter
                )
            )
        if p.parameter == "recruitment.women_share" and s.recruitment.mode == "conscription":
            out.append(
                Issue(
                    f"policies[{i}].parameter",
                    "in recruitment mode 'conscription' the women come from the funnel: use "
                    "conscription.women_summoned, .volunteer_share or .contract_share",
                    p.parameter,
                )
            )
        if p.parameter in share_parameters and p.set is not None and p.set > 1:
            out.append(Issue(f"policies[{i}].set", f"{p.parameter} is a share (0 to 1)", p.set))
        for j, did in enumerate(p.deployments or []):
            if did not in seen:
                out.append(Issue(f"policies[{i}].deployments[{j}]", "unknown deployment id", did))
    return out


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
def parse_scenario(data: Any, source: str | None = None) -> Scenario:
    """Validate already-parsed data (a dict from TOML or JSON) into a :class:`Scenario`.

    Raises
    ------
    ScenarioError
        With every problem found.
    """
    if not isinstance(data, dict):
        raise ScenarioError(
            [Issue("", "a scenario must be a table (mapping) at top level")], source
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        issues: list[Issue] = []
        for err in exc.errors(include_url=False):
            ctx = err.get("ctx") or {}
            inner = ctx.get("error")
            if isinstance(inner, _CrossCheckFailed):
                issues += inner.issues
        plain = [
            e
            for e in exc.errors(include_url=False)
            if not isinstance((e.get("ctx") or {}).get("error"), _CrossCheckFailed)
        ]
        if plain:
            issues = issues_from_pydantic(_Errors(plain), Scenario) + issues
            # Field errors stop pydantic before the cross-reference checks; run the ones that
            # the raw data allows, so the user still sees every problem at once.
            seen = {(i.path, i.message) for i in issues}
            issues += [i for i in _raw_cross_check(data) if (i.path, i.message) not in seen]
        raise ScenarioError(issues, source) from None


def field_issues(data: dict[str, Any]) -> list[Issue]:
    """The problems of ``data`` that field validation finds (types, ranges, unknown fields),
    without the cross-reference checks: on a valid scenario with one value changed, these are
    that value's own problems, whatever any other field holds. Empty when there are none."""
    try:
        Scenario.model_validate(data)
    except ValidationError as exc:
        plain = [
            e
            for e in exc.errors(include_url=False)
            if not isinstance((e.get("ctx") or {}).get("error"), _CrossCheckFailed)
        ]
        return issues_from_pydantic(_Errors(plain), Scenario) if plain else []
    return []


def _raw_cross_check(data: dict[str, Any]) -> list[Issue]:
    """Cross-reference checks on raw data, used only when field validation failed.

    Defensive: each check runs only where the data it needs is well formed.
    """
    out: list[Issue] = []
    start, end = data.get("start_year"), data.get("end_year")
    years_ok = all(isinstance(y, int) and not isinstance(y, bool) for y in (start, end))
    if years_ok:
        if end <= start:
            out.append(Issue("end_year", "must be after start_year", end))
        elif end - start > MAX_HORIZON_YEARS:
            out.append(Issue("end_year", f"horizon is at most {MAX_HORIZON_YEARS} years", end))
    grades = data.get("grades")
    ids = [g.get("id") for g in grades if isinstance(g, dict)] if isinstance(grades, list) else []
    ids = [i for i in ids if isinstance(i, str)]
    sources = data.get("sources") if isinstance(data.get("sources"), dict) else {}
    for section, key in (("initial", "grade"), ("attrition", "grade"), ("promotions", "to")):
        blocks = data.get(section)
        if not isinstance(blocks, list):
            continue
        for i, block in enumerate(blocks):
            if not isinstance(block, dict):
                continue
            ref = block.get(key)
            if ids and isinstance(ref, str) and ref not in ids:
                out.append(Issue(f"{section}[{i}].{key}", f"unknown grade; grades are {ids}", ref))
            refs = block.get("source")
            for r in refs if isinstance(refs, list) else [refs]:
                if isinstance(r, str) and _IDENT_RE.match(r) and r not in sources:
                    out.append(
                        Issue(
                            f"{section}[{i}].source",
                            f"unknown source; [sources] has {sorted(sources)}",
                            r,
                        )
                    )
    establishment = {
        g.get("id"): g.get("establishment") is not None
        for g in (grades if isinstance(grades, list) else [])
        if isinstance(g, dict) and isinstance(g.get("id"), str)
    }
    promotions = data.get("promotions")
    for i, block in enumerate(promotions if isinstance(promotions, list) else []):
        if not isinstance(block, dict) or block.get("mode") != "vacancy":
            continue
        to = block.get("to")
        if isinstance(to, str) and establishment.get(to) is False:
            out.append(
                Issue(
                    f"promotions[{i}].mode",
                    f"vacancy mode needs an establishment on grade {to!r}",
                    "vacancy",
                )
            )
    targets = data.get("targets")
    if years_ok and isinstance(targets, list):
        for i, t in enumerate(targets):
            d = t.get("deadline") if isinstance(t, dict) else None
            if isinstance(d, int) and not start <= d <= end:
                out.append(
                    Issue(
                        f"targets[{i}].deadline",
                        f"must lie within the horizon {start}-{end}",
                        d,
                    )
                )
    return out


class _Errors:
    """Adapter so issues_from_pydantic can take a filtered error list."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self._errors = errors

    def errors(self, include_url: bool = False) -> list[dict[str, Any]]:
        return self._errors


def file_too_large(size: int, unit: str = "bytes") -> Issue:
    """The problem of a file (or text) over :data:`MAX_FILE_BYTES`, with its size."""
    return Issue("", f"file is larger than {MAX_FILE_BYTES:,} {unit} ({size:,} {unit})")


def loads_scenario(
    text: str | bytes, fmt: Literal["toml", "json"] = "toml", source: str | None = None
) -> Scenario:
    """Parse scenario text (TOML or JSON) as data only, then validate it.

    Raises
    ------
    ScenarioError
        For unreadable text (with the parser's location) or any schema problem.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise ScenarioError([file_too_large(len(text))], source)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError(
                [Issue("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")], source
            ) from None
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError([file_too_large(len(text), "characters")], source)
    try:
        data = tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Issue("", f"not valid TOML: {exc}")], source) from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            [Issue("", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")],
            source,
        ) from None
    except RecursionError:
        raise ScenarioError([Issue("", "nesting too deep")], source) from None
    return parse_scenario(data, source)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (``.toml`` or ``.json``).

    Raises
    ------
    ScenarioError
        If the file cannot be read or is invalid.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError([file_too_large(size)], str(p))
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError([Issue("", f"cannot read file: {exc.strerror}")], str(p)) from None
    fmt: Literal["toml", "json"] = "json" if p.suffix.lower() == ".json" else "toml"
    return loads_scenario(raw, fmt, source=str(p))


#: Top-level lists added to the format after its first scenarios were written: left out of the
#: plain data while empty, so that a scenario without them keeps its fingerprint.
OMITTED_WHEN_EMPTY = frozenset({"observed"})


def scenario_to_data(s: Scenario) -> dict[str, Any]:
    """Return the scenario as plain data (what a TOML/JSON file holds)."""

    def plain(v: Any) -> Any:
        if isinstance(v, Series):
            return v.to_plain()
        if isinstance(v, BaseModel):
            return {k: plain(x) for k, x in v if x is not None}
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    data = plain(s)
    for key in OMITTED_WHEN_EMPTY:
        if data.get(key) == []:
            del data[key]
    return data


def scenario_fingerprint(s: Scenario) -> str:
    """Return the sha256 of the scenario's canonical JSON (provenance of a run)."""
    import hashlib

    text = json.dumps(scenario_to_data(s), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
