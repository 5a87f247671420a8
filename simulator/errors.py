"""Errors a user can act on.

Every problem found in a scenario (or sweep, or calibration) file is reported as one
:class:`Issue`: the path of the offending value in the file's own notation
(``grades[1].establishment``), a message saying what is allowed, and the value that was given.
All problems in a file are collected and raised together as one :class:`ScenarioError`, so a
user fixes a file in one pass. The CLI prints them and exits with status 2; the app shows them
in the page. Nothing here ever prints a traceback.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class Issue:
    """One problem in an input file.

    Attributes
    ----------
    path
        Where the problem is, e.g. ``promotions[0].probability.women``; ``""`` for the whole file.
    message
        What is wrong and what is allowed.
    value
        The offending value as given (``None`` when the problem is a missing value).
    """

    path: str
    message: str
    value: Any = _MISSING

    def __str__(self) -> str:
        where = self.path or "(file)"
        if self.value is _MISSING:
            return f"{where}: {self.message}"
        return f"{where}: {self.message} (got {_short(self.value)})"


class ScenarioError(ValueError):
    """A scenario (or other input file) is invalid; carries every problem found.

    Parameters
    ----------
    issues
        All problems found, in file order where known.
    source
        The file name or a short label of the input, used as a heading.
    """

    def __init__(self, issues: list[Issue], source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        super().__init__(self.report())

    def report(self) -> str:
        """Return a readable multi-line report of every problem."""
        head = f"{self.source}: " if self.source else ""
        n = len(self.issues)
        lines = [f"{head}{n} problem{'s' if n != 1 else ''} found"]
        lines += [f"  - {issue}" for issue in self.issues]
        return "\n".join(lines)


def _short(value: Any, limit: int = 80) -> str:
    """A bounded repr of a value, safe for any nesting depth (a crafted file can nest deeply)."""
    text = _bounded_repr(value, limit + 1, depth=0)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bounded_repr(value: Any, budget: int, depth: int) -> str:
    """repr() that stops after about ``budget`` characters or 20 levels of nesting."""
    if depth > 20:
        return "..."
    if isinstance(value, list | tuple):
        open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
        parts: list[str] = []
        used = 1
        for item in value:
            if used > budget:
                parts.append("...")
                break
            part = _bounded_repr(item, budget - used, depth + 1)
            parts.append(part)
            used += len(part) + 2
        return open_ + ", ".join(parts) + close
    if isinstance(value, dict):
        parts = []
        used = 1
        for k, v in value.items():
            if used > budget:
                parts.append("...")
                break
            part = f"{_bounded_repr(k, budget - used, depth + 1)}: " + _bounded_repr(
                v, budget - used, depth + 1
            )
            parts.append(part)
            used += len(part) + 2
        return "{" + ", ".join(parts) + "}"
    text = repr(value)
    return text[: budget + 3]


def loc_to_path(loc: tuple[Any, ...]) -> str:
    """Render a pydantic error location as a path in TOML/JSON notation.

    >>> loc_to_path(("grades", 0, "attrition", "women"))
    'grades[0].attrition.women'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _unwrap(tp: Any) -> list[Any]:
    """Return the concrete candidate types inside Optional/Union/Annotated/list/dict."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out += _unwrap(arg)
        return out
    return [tp]


def _model_at(root: type, loc: tuple[Any, ...]) -> type | None:
    """Find the pydantic model class that owns the value at ``loc`` (best effort)."""
    from pydantic import BaseModel

    current: list[Any] = [root]
    for part in loc:
        nxt: list[Any] = []
        for tp in current:
            for cand in _unwrap(tp):
                origin = typing.get_origin(cand)
                if isinstance(part, int) and origin in (list, tuple):
                    nxt += _unwrap(typing.get_args(cand)[0])
                elif origin is dict and isinstance(part, str):
                    nxt += _unwrap(typing.get_args(cand)[1])
                elif (
                    isinstance(cand, type)
                    and issubclass(cand, BaseModel)
                    and isinstance(part, str)
                    and part in cand.model_fields
                ):
                    nxt += _unwrap(cand.model_fields[part].annotation)
        current = nxt
    from pydantic import BaseModel as _BM

    for tp in current:
        if isinstance(tp, type) and issubclass(tp, _BM):
            return tp
    return None


def issues_from_pydantic(exc: Any, root_model: type) -> list[Issue]:
    """Convert a :class:`pydantic.ValidationError` into a list of :class:`Issue`.

    Unknown keys are reported with the list of keys allowed at that place.
    """
    issues: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        # Drop pydantic's internal union/validator tags ("function-after[...]" etc.).
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p and "]" in p)))
        path = loc_to_path(loc)
        kind = err.get("type", "")
        msg = str(err.get("msg", "invalid value"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if kind == "extra_forbidden":
            owner = _model_at(root_model, loc[:-1])
            allowed = sorted(owner.model_fields) if owner is not None else []
            msg = "unknown field" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
            issues.append(Issue(path, msg, err.get("input")))
        elif kind == "missing":
            issues.append(Issue(path, "required field is missing"))
        else:
            value = err.get("input", None)
            if kind == "value_error" and isinstance(value, dict):
                # A check on a whole table (a model validator): its message names the values
                # it is about; repeating the table would only bury them. (A list is a value:
                # it is shown.)
                issues.append(Issue(path, msg))
            else:
                issues.append(Issue(path, msg, value))
    return issues
