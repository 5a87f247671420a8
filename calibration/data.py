"""The published figures the project uses, as tidy CSV files, validated at the boundary.

``calibration/data/*.csv`` hold every published figure a shipped scenario or a calibration
problem uses: one figure per row, with its organisation, population, the grades of our
scenarios it maps to, the quantity, its value and unit, the date it refers to, and where it
comes from (document, seed file, locator, the original-language quote and an English
rendering). ``docs/data.md`` documents the columns and how to add a figure.

* :func:`load_figures` reads and validates the files (all of ``calibration/data/*.csv`` by
  default) and returns one :class:`pandas.DataFrame`; every problem in every file is collected
  and raised at once as a :class:`~simulator.errors.ScenarioError` whose issues name the file,
  the row and the field (``calibration/data/figures.csv:row 17.value: must be a number (got
  'abc')``). Row 1 is the first line after the header.
* :func:`figure` returns one figure by id, as a dict.
* :func:`figures_for_scenario` returns the figures relevant to a scenario: those whose id the
  scenario cites anywhere in its text, those listed explicitly, and those of an organisation.

Rules checked per row (pydantic v2, unknown and missing columns are errors): ``id`` is a slug,
unique across all files; ``value`` is a finite number; a value in unit ``share`` lies in
[0, 1] (percentages are stored as shares); ``date`` is empty (not stated by the source) or a
year, ``YYYY-MM`` or an ISO date; ``kind`` and ``relevance`` are from fixed sets; required text
fields are not empty.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simulator.errors import Issue, ScenarioError

#: Root of the repository (paths in messages are shown relative to it).
ROOT = Path(__file__).resolve().parent.parent
#: Directory of the shipped data files.
DATA_DIR = Path(__file__).resolve().parent / "data"

#: The columns of every data file, in this order.
COLUMNS = (
    "id",
    "organisation",
    "population",
    "grades",
    "quantity",
    "value",
    "unit",
    "date",
    "kind",
    "source_document",
    "source_file",
    "locator",
    "quote",
    "english",
    "relevance",
    "note",
)
#: Columns that may be empty.
OPTIONAL_COLUMNS = ("grades", "date", "source_file", "note")
#: What a figure is.
KINDS = ("observed", "target", "policy_date", "policy", "projection")
#: How much a figure matters to the project's scenarios.
RELEVANCE = ("high", "medium", "low")
#: Units whose values are shares from 0 to 1.
SHARE_UNITS = ("share",)

_SLUG = r"^[a-z0-9][a-z0-9_.\-]*$"
_GRADE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")

Required = Field(min_length=1, max_length=4000)


class FigureRow(BaseModel):
    """One published figure (one row of a data file)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    id: str = Field(min_length=1, max_length=64, pattern=_SLUG)
    organisation: str = Required
    population: str = Required
    grades: str = Field("", max_length=2000)
    quantity: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_]+$")
    value: float
    unit: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    date: str = Field("", max_length=10)
    kind: Literal["observed", "target", "policy_date", "policy", "projection"]
    source_document: str = Required
    source_file: str = Field("", max_length=300)
    locator: str = Required
    quote: str = Required
    english: str = Required
    relevance: Literal["high", "medium", "low"]
    note: str = Field("", max_length=4000)

    @field_validator("value", mode="before")
    @classmethod
    def _number(cls, v: Any) -> float:
        if isinstance(v, bool):
            raise ValueError("must be a number")
        if isinstance(v, str):
            text = v.strip()
            try:
                v = float(text)
            except ValueError:
                raise ValueError(
                    "must be a number (a decimal point, no thousands separator)"
                ) from None
        if not isinstance(v, int | float):
            raise ValueError("must be a number")
        if not math.isfinite(float(v)):
            raise ValueError("must be a finite number")
        return float(v)

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        if v == "":
            return v
        m = _DATE.match(v)
        if not m:
            raise ValueError(
                "must be empty, a year (2024), a month (2024-09) or a date (2024-01-01)"
            )
        year, month, day = (int(x) if x else None for x in m.groups())
        try:
            dt.date(year, month or 1, day or 1)
        except ValueError:
            raise ValueError("is not a calendar date") from None
        return v

    @field_validator("grades")
    @classmethod
    def _grades(cls, v: str) -> str:
        if v == "":
            return v
        bad = [g for g in v.split(";") if not _GRADE.match(g)]
        if bad:
            raise ValueError(
                "must be grade ids separated by ';' (letters, digits, _ . -, no spaces); "
                f"bad: {bad}"
            )
        return v

    @model_validator(mode="after")
    def _share_in_range(self) -> FigureRow:
        if self.unit in SHARE_UNITS and not 0.0 <= self.value <= 1.0:
            raise _FieldProblem("value", "a share must be from 0 to 1 (convert percent to share)")
        return self

    @property
    def grade_ids(self) -> list[str]:
        """The grade ids the figure maps to (empty when it maps to none)."""
        return self.grades.split(";") if self.grades else []


class _FieldProblem(ValueError):
    """A cross-field check that belongs to one field (reported at that field)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------
def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def default_paths() -> list[Path]:
    """The shipped data files (``calibration/data/*.csv``), sorted."""
    return sorted(DATA_DIR.glob("*.csv"))


def _row_issues(where: str, raw: dict[str, Any], exc: ValidationError) -> list[Issue]:
    out: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = err.get("loc", ())
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, _FieldProblem):
            out.append(Issue(f"{where}.{inner.field}", inner.message, raw.get(inner.field)))
            continue
        field = str(loc[0]) if loc else ""
        msg = str(err.get("msg", "invalid value"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err.get("type") == "string_too_short":
            msg = "required field is empty"
        elif err.get("type") == "string_pattern_mismatch":
            msg = f"must match {err['ctx']['pattern']} (lower-case letters, digits, _ . -)"
        elif err.get("type") == "literal_error":
            msg = f"must be one of {list(_allowed(field))}"
        out.append(Issue(f"{where}.{field}" if field else where, msg, raw.get(field)))
    return out


def _allowed(field: str) -> Sequence[str]:
    return {"kind": KINDS, "relevance": RELEVANCE}.get(field, ())


def _read_file(path: Path) -> tuple[list[tuple[int, FigureRow]], list[Issue]]:
    """Read one data file; return its valid rows (with row numbers) and every problem."""
    name = _display(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        return [], [Issue(name, f"cannot read file: {exc.strerror}")]
    except UnicodeDecodeError as exc:
        return [], [Issue(name, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [Issue(name, "empty file: the header row is missing")]
    except csv.Error as exc:
        return [], [Issue(f"{name}:header", f"not valid CSV: {exc}")]
    issues: list[Issue] = []
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in COLUMNS if c not in header]
    repeated = sorted({c for c in header if header.count(c) > 1})
    for c in unknown:
        issues.append(Issue(f"{name}:header", f"unknown column; allowed: {', '.join(COLUMNS)}", c))
    for c in missing:
        issues.append(Issue(f"{name}:header", "required column is missing", c))
    for c in repeated:
        issues.append(Issue(f"{name}:header", "column given twice", c))
    if issues:
        return [], issues
    rows: list[tuple[int, FigureRow]] = []
    n = 0
    try:
        for n, cells in enumerate(reader, start=1):
            where = f"{name}:row {n}"
            if not any(c.strip() for c in cells):
                issues.append(Issue(where, "empty row"))
                continue
            if len(cells) != len(header):
                issues.append(
                    Issue(where, f"has {len(cells)} fields; the header has {len(header)}")
                )
                continue
            raw = dict(zip(header, cells, strict=True))
            try:
                rows.append((n, FigureRow.model_validate(raw)))
            except ValidationError as exc:
                issues += _row_issues(where, raw, exc)
    except csv.Error as exc:
        issues.append(Issue(f"{name}:row {n + 1}", f"not valid CSV: {exc}"))
    return rows, issues


def _validate(paths: Sequence[Path]) -> pd.DataFrame:
    issues: list[Issue] = []
    records: list[dict[str, Any]] = []
    first_seen: dict[str, str] = {}
    for path in paths:
        rows, file_issues = _read_file(path)
        issues += file_issues
        name = _display(path)
        for n, row in rows:
            where = f"{name}:row {n}"
            if row.id in first_seen:
                issues.append(
                    Issue(
                        f"{where}.id", f"duplicate id; first used at {first_seen[row.id]}", row.id
                    )
                )
                continue
            first_seen[row.id] = where
            records.append({**row.model_dump(), "file": name, "row": n})
    if issues:
        label = ", ".join(_display(p) for p in paths) if len(paths) <= 3 else "calibration data"
        raise ScenarioError(issues, label)
    frame = pd.DataFrame.from_records(records, columns=[*COLUMNS, "file", "row"])
    frame["value"] = frame["value"].astype(float)
    frame["row"] = frame["row"].astype(int)
    return frame


@functools.lru_cache(maxsize=16)
def _cached(key: tuple[tuple[str, int, int], ...]) -> pd.DataFrame:
    return _validate([Path(p) for p, _, _ in key])


def load_figures(paths: Iterable[str | Path] | None = None) -> pd.DataFrame:
    """Read and validate published-figure files; return all their rows as one table.

    Parameters
    ----------
    paths
        CSV files to read; by default every ``calibration/data/*.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per figure: the columns :data:`COLUMNS` (``value`` as float, the others as
        strings) plus ``file`` (the file, relative to the repository) and ``row`` (its row
        number, 1 = the first line after the header). A fresh copy on every call.

    Raises
    ------
    ScenarioError
        With one issue per bad file, header, row or field; paths name file, row and field.
    """
    chosen = default_paths() if paths is None else [Path(p) for p in paths]
    key = []
    for p in chosen:
        try:
            st = p.stat()
            key.append((str(p.resolve()), st.st_mtime_ns, st.st_size))
        except OSError:
            key.append((str(p), -1, -1))
    return _cached(tuple(key)).copy()


def figure(figure_id: str, paths: Iterable[str | Path] | None = None) -> dict[str, Any]:
    """Return one figure by id, as a dict of its columns (plus ``file`` and ``row``).

    Raises
    ------
    KeyError
        If no figure has that id.
    """
    frame = load_figures(paths)
    match = frame[frame["id"] == figure_id]
    if match.empty:
        raise KeyError(f"no figure with id {figure_id!r} in calibration/data")
    record = match.iloc[0].to_dict()
    record["value"] = float(record["value"])
    record["row"] = int(record["row"])
    return record


def _scenario_text(scenario: Any) -> str:
    """All free text of a scenario (sources, locators, assumptions, labels, description)."""
    from simulator.scenario import scenario_to_data

    parts: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    walk(scenario_to_data(scenario) if not isinstance(scenario, dict) else scenario)
    return "\n".join(parts)


def figures_for_scenario(
    scenario: Any,
    *,
    organisation: str | None = None,
    ids: Iterable[str] = (),
    figures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the figures relevant to a scenario.

    A figure is relevant when the scenario cites its id anywhere in its text (a source's
    title, locator, quote or note, a block's locator or assumption, the description), when its
    id is in ``ids``, or when its ``organisation`` contains ``organisation`` (case-insensitive).

    Parameters
    ----------
    scenario
        A :class:`simulator.scenario.Scenario`, or the plain data of one (a dict).
    organisation
        Optional text to match in the figures' ``organisation`` column, e.g.
        ``"Beredskabsstyrelsen"``.
    ids
        Further figure ids to include.
    figures
        The figures to search (default: :func:`load_figures`).

    Returns
    -------
    pandas.DataFrame
        The matching rows, with a column ``match`` (``"cited"``, ``"listed"`` or
        ``"organisation"``; the first that applies).
    """
    frame = load_figures() if figures is None else figures.copy()
    text = _scenario_text(scenario)
    cited = {
        fid
        for fid in frame["id"]
        if re.search(rf"(?<![a-z0-9_.\-]){re.escape(fid)}(?![a-z0-9_\-]|\.[a-z0-9])", text)
    }
    listed = set(ids)
    unknown = listed - set(frame["id"])
    if unknown:
        raise KeyError(f"no figure with id {sorted(unknown)} in calibration/data")
    match = pd.Series("", index=frame.index, dtype=object)
    if organisation:
        by_org = frame["organisation"].str.contains(organisation, case=False, regex=False)
        match[by_org] = "organisation"
    match[frame["id"].isin(listed)] = "listed"
    match[frame["id"].isin(cited)] = "cited"
    out = frame[match != ""].copy()
    out["match"] = match[match != ""]
    return out.reset_index(drop=True)
