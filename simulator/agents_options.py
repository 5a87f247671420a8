"""Options of the individual-level (agents) engine: the ``[agents]`` table of a scenario.

Everything here is opt-in. With the defaults (``AgentOptions()``) the agents engine follows the
model contract's annual step exactly, like the cohort engines; each field below switches on
something the cohort engines do not have. The table is validated like the rest of a scenario
(pydantic, ``extra="forbid"``: unknown keys are errors); :func:`validate_agent_options` adds the
checks that need the scenario (grade ids, the promotion step a training stage feeds, years).

Example (TOML)::

    [agents]
    timing = "continuous"            # sub-annual event timing (default "annual")
    vacancy_filling = "immediate"    # fill vacancies when they arise (default: at board dates)
    intake_times = [0.25, 0.75]      # recruits arrive on 1 April and 1 October
    retirement_age = 60
    entry_age = { mean = 22, sd = 3, min = 18, max = 35 }
    initial_ages = [{ grade = "chiefs", mean = 52, sd = 5, min = 40, max = 60 }]

    [[agents.training]]
    grade = "conscripts"
    duration_years = 0.333           # 4 months
    dropout = { women = 0.13, men = 0.08 }
    completion_share = { women = 0.32, men = 0.45 }

    [agents.deployment]
    demand = 600                     # persons on tour at any time (number, table of years, ramp)
    grades = ["privates", "ncos"]
    tour_years = 0.5
    rest_years = 1.0
    women_odds = 1.0

Times inside a year are fractions of the year measured from its start: 0.5 is 1 July,
1.0 the year-end (the instant the annual engines use for every flow).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.errors import Issue

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
YearFraction = Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]
Age = Annotated[float, Field(ge=0.0, le=120.0, allow_inf_nan=False)]
MAX_DATES = 12


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgeDistribution(_Strict):
    """A normal distribution of ages in years, truncated to ``[min, max]``."""

    mean: Age = Field(description="Mean of the untruncated normal (years).")
    sd: Annotated[float, Field(ge=0.0, le=50.0, allow_inf_nan=False)] = Field(
        description="Standard deviation (years); 0 gives every person the mean (clipped)."
    )
    min: Age = Field(16.0, description="Lowest age drawn (years).")
    max: Age = Field(70.0, description="Highest age drawn (years).")

    @model_validator(mode="after")
    def _bounds(self) -> AgeDistribution:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class GradeAges(AgeDistribution):
    """Initial ages (end of ``start_year``) of one grade."""

    grade: Ident


class BySex(_Strict):
    """A pair of probabilities, one per sex."""

    women: Probability
    men: Probability


class TrainingStage(_Strict):
    """A grade that persons leave by elapsed time, not by an annual probability.

    A person entering ``grade`` either drops out during the stage (probability ``dropout``
    over the whole stage, a constant hazard; by default the grade's own annual attrition as a
    hazard) or completes it exactly ``duration_years`` after entering. At completion a share
    ``completion_share`` moves on to the next grade (e.g. signs a contract); the others leave.
    The grade's promotion probability in the scenario is not used; the next grade's promotion
    step must be rate mode.
    """

    grade: Ident
    duration_years: Annotated[float, Field(gt=0.0, le=20.0, allow_inf_nan=False)]
    dropout: BySex | None = Field(
        None,
        description="Probability of dropping out over the whole stage, by sex (< 1). "
        "Default: the grade's annual attrition, applied as a constant hazard.",
    )
    completion_share: BySex | None = Field(
        None, description="Share of completers who move on to the next grade (default 1)."
    )

    @model_validator(mode="after")
    def _dropout_below_one(self) -> TrainingStage:
        if self.dropout is not None and max(self.dropout.women, self.dropout.men) >= 1.0:
            raise ValueError("dropout must be below 1 (nobody would ever complete the stage)")
        return self


class Deployment(_Strict):
    """Deployments as events: tours of a fixed length, rotated, with rest between tours.

    Every ``tour_years`` (from the start of the first projection year) a rotation fills the
    deployment posts: ``demand`` persons should be on tour at any time. Persons are drawn from
    the eligible pool (``grades``, at least ``min_service_years`` of service, not on tour, and
    at least ``rest_years`` since their last tour ended) by weighted selection without
    replacement with relative deployability ``women_odds`` for a woman, with an optional floor
    on the women's share of each rotation (met as far as eligible women exist, the rest filled
    with men). Deployed persons stay in their grade and keep every other risk; a person who
    leaves on tour frees the post at the next rotation.
    """

    demand: Any = Field(
        description="Persons on tour at any time: a number, a table of years or a ramp."
    )
    grades: Annotated[list[Ident], Field(min_length=1, max_length=60)] | None = Field(
        None, description="Eligible grades or groups (default: the workforce grades)."
    )
    min_service_years: Annotated[float, Field(ge=0.0, le=60.0, allow_inf_nan=False)] = 0.0
    tour_years: Annotated[float, Field(gt=0.0, le=5.0, allow_inf_nan=False)] = 0.5
    rest_years: Annotated[float, Field(ge=0.0, le=20.0, allow_inf_nan=False)] = 1.0
    women_odds: Annotated[float, Field(gt=0.0, le=1000.0, allow_inf_nan=False)] = 1.0
    women_floor: Probability = 0.0

    @field_validator("demand", mode="before")
    @classmethod
    def _series(cls, value: Any) -> Any:
        # Imported here: simulator.scenario may import this module for its [agents] table.
        from pydantic import TypeAdapter

        from simulator.scenario import CountSeries

        return TypeAdapter(CountSeries).validate_python(value)


class AgentOptions(_Strict):
    """Options of the agents engine (the scenario's optional ``[agents]`` table).

    Attributes
    ----------
    timing
        ``"annual"`` (default): every flow at the year-end, exactly the contract's annual step.
        ``"continuous"``: sub-annual event timing — leaving and rate promotion are competing
        risks in continuous time with constant hazards within each (year, years-in-grade)
        cell, chosen so that one year of exposure gives exactly the annual probabilities
        (see ``docs/agents.md``); eligibility by exact time in grade; vacancies filled at board
        dates or as they arise; recruits at intake dates.
    vacancy_filling
        Continuous timing only. ``"boards"``: vacancy-mode grades are filled at ``board_times``
        (top grade first). ``"immediate"``: a vacancy is filled the moment it arises (and at the
        start of every year), the floor holding on the year's running total of promotions.
    board_times
        Continuous timing only: fractions of the year at which promotion boards sit
        (default ``[1.0]``, the year-end).
    intake_times
        Continuous timing only: fractions of the year at which recruits arrive (default
        ``[1.0]``); a fixed intake is split evenly over them.
    retirement_age
        Everybody leaves at this age (counted among the leavers and reported as retirements).
        Annual timing: in the step during which the age is reached. ``None``: no forced
        retirement (the scenario's attrition covers all separations).
    entry_age
        Age distribution of recruits.
    initial_ages
        Age distributions of the initial population by grade.
    default_initial_age
        Age distribution of the initial population of grades not in ``initial_ages``, and of
        lateral entrants to those grades (lateral entrants to a listed grade use its entry).
    training
        Training stages (see :class:`TrainingStage`).
    deployment
        Deployment rotations (see :class:`Deployment`).
    """

    timing: Literal["annual", "continuous"] = "annual"
    vacancy_filling: Literal["boards", "immediate"] = "boards"
    board_times: Annotated[list[YearFraction], Field(min_length=1, max_length=MAX_DATES)] = [1.0]
    intake_times: Annotated[list[YearFraction], Field(min_length=1, max_length=MAX_DATES)] = [1.0]
    retirement_age: Annotated[float, Field(gt=0.0, le=120.0, allow_inf_nan=False)] | None = None
    entry_age: AgeDistribution = AgeDistribution(mean=23.0, sd=3.0, min=18.0, max=35.0)
    initial_ages: Annotated[list[GradeAges], Field(max_length=60)] = []
    default_initial_age: AgeDistribution = AgeDistribution(mean=38.0, sd=9.0, min=18.0, max=66.0)
    training: Annotated[list[TrainingStage], Field(max_length=60)] = []
    deployment: Deployment | None = None

    @model_validator(mode="after")
    def _continuous_only(self) -> AgentOptions:
        if self.timing == "annual":
            set_fields = self.model_fields_set & {"vacancy_filling", "board_times", "intake_times"}
            if set_fields:
                raise ValueError(
                    f"{', '.join(sorted(set_fields))} apply to timing = 'continuous' only "
                    "(annual timing fills vacancies and recruits at the year-end)"
                )
        for name in ("board_times", "intake_times"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must not repeat a date")
        return self


def validate_agent_options(options: AgentOptions, scenario: Any, prefix: str = "agents") -> list:
    """Return every problem of ``options`` for ``scenario`` (empty when they fit).

    Checks that grades exist, that a training stage is not the top grade and feeds a rate-mode
    promotion step, that a stage without ``dropout`` has an attrition below 1, and that the
    deployment demand's table of years starts in time.
    """
    issues: list[Issue] = []
    ids = list(scenario.grade_ids)
    index = {g: i for i, g in enumerate(ids)}
    steps = {p.to: p for p in scenario.promotions}
    seen: set[str] = set()
    for i, ages in enumerate(options.initial_ages):
        if ages.grade not in index:
            issues.append(
                Issue(
                    f"{prefix}.initial_ages[{i}].grade",
                    f"unknown grade; grades are {ids}",
                    ages.grade,
                )
            )
        elif ages.grade in seen:
            issues.append(
                Issue(f"{prefix}.initial_ages[{i}].grade", "grade given twice", ages.grade)
            )
        seen.add(ages.grade)
    seen = set()
    for i, stage in enumerate(options.training):
        path = f"{prefix}.training[{i}].grade"
        if stage.grade not in index:
            issues.append(Issue(path, f"unknown grade; grades are {ids}", stage.grade))
            continue
        if stage.grade in seen:
            issues.append(Issue(path, "grade given twice", stage.grade))
        seen.add(stage.grade)
        g = index[stage.grade]
        if g == len(ids) - 1:
            issues.append(
                Issue(path, "the top grade cannot be a training stage (no next grade)", stage.grade)
            )
            continue
        step = steps.get(ids[g + 1])
        if step is not None and step.mode != "rate":
            issues.append(
                Issue(
                    path,
                    f"completers move on to {ids[g + 1]!r}, whose promotion step must be "
                    "rate mode (it is vacancy mode)",
                    stage.grade,
                )
            )
        if stage.dropout is None:
            for block in scenario.attrition:
                if block.grade != stage.grade:
                    continue
                values = [
                    *(block.women if isinstance(block.women, list) else [block.women]),
                    *(block.men if isinstance(block.men, list) else [block.men]),
                ]
                if max(values) >= 1.0:
                    issues.append(
                        Issue(
                            f"{prefix}.training[{i}].dropout",
                            "the grade's attrition is 1 "
                            "somewhere; give the stage's dropout explicitly",
                            None,
                        )
                    )
    dep = options.deployment
    if dep is not None:
        for j, gid in enumerate(dep.grades or []):
            if gid not in index and gid not in scenario.groups:
                issues.append(
                    Issue(f"{prefix}.deployment.grades[{j}]", "unknown grade or group", gid)
                )
        first = dep.demand.first_year()
        if first is not None and first > scenario.start_year + 1:
            issues.append(
                Issue(
                    f"{prefix}.deployment.demand",
                    f"the first year must be at most {scenario.start_year + 1} "
                    "(the first simulated year)",
                    first,
                )
            )
    if options.retirement_age is not None:
        for name, dist in [("entry_age", options.entry_age)]:
            if dist.min >= options.retirement_age:
                issues.append(
                    Issue(
                        f"{prefix}.{name}.min",
                        "recruits would be at or past the retirement age",
                        dist.min,
                    )
                )
    return issues
