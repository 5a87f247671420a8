"""Parameter paths: address one value in a scenario's data as written in the file.

Used by sweep files (the levers), calibration problems (the free parameters) and calibrated
scenarios' posterior samples. Syntax: dotted keys (``recruitment.women_share``), list items by
position (``promotions[1]``, from 0) or by a field of the item (``promotions[to=leaders]``,
``attrition[grade=officers]``, ``policies[id=quota]``), and nested values
(``promotions[0].probability.women``, ``attrition[0].women[2]``). The last key may be absent
(a field left at its default); everything before it must exist.
"""

from __future__ import annotations

import re
from typing import Any

_SEGMENT = re.compile(r"^(?P<key>[A-Za-z0-9_\-]+)(?P<sel>(?:\[[^\[\]]+\])*)$")
_SELECTOR = re.compile(r"\[([^\[\]]+)\]")
_SELECTOR_VALID = re.compile(r"^(?:\d+|[A-Za-z0-9_\-]+=[A-Za-z0-9_.\-]+)$")


Step = str | int | tuple[str, str]  # dict key | list index | (field, value) selector


def parse_path(text: str) -> list[Step]:
    """Split a parameter path into steps.

    >>> parse_path("promotions[to=leaders].women_floor")
    ['promotions', ('to', 'leaders'), 'women_floor']
    >>> parse_path("attrition[0].women[2]")
    ['attrition', 0, 'women', 2]

    Raises
    ------
    ValueError
        With a message saying what a path looks like.
    """
    if not text or len(text) > 300:
        raise ValueError("a path must have 1 to 300 characters")
    steps: list[Step] = []
    for segment in text.split("."):
        m = _SEGMENT.match(segment)
        if m is None:
            raise ValueError(
                f"cannot read {segment!r}: use dotted keys with optional [index] or "
                "[field=value] selectors, e.g. promotions[to=leaders].women_floor"
            )
        steps.append(m.group("key"))
        for sel in _SELECTOR.findall(m.group("sel")):
            if not _SELECTOR_VALID.match(sel):
                raise ValueError(
                    f"cannot read selector [{sel}]: use a position [1] or a field [to=leaders]"
                )
            if sel.isdigit():
                steps.append(int(sel))
            else:
                key, value = sel.split("=", 1)
                steps.append((key, value))
    return steps


def _describe(step: Step) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    if isinstance(step, tuple):
        return f"[{step[0]}={step[1]}]"
    return f".{step}"


def resolve_slot(data: Any, steps: list[Step]) -> tuple[Any, str | int]:
    """Return ``(container, key)`` of the value a path addresses in ``data``.

    Every step but the last must exist; the last may name a key that a table does not have
    yet (a field left at its default).

    Raises
    ------
    ValueError
        Saying which step does not exist and what exists there.
    """
    node = data
    where = ""
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise ValueError(
                    f"{where or 'the scenario'} is not a table, so it has no key {step!r}"
                )
            if last:
                return node, step
            if step not in node:
                keys = ", ".join(sorted(map(str, node))) or "none"
                raise ValueError(f"{where or 'the scenario'} has no key {step!r} (keys: {keys})")
            node = node[step]
        else:
            if not isinstance(node, list):
                raise ValueError(f"{where} is not a list, so {_describe(step)} does not apply")
            if isinstance(step, int):
                if step >= len(node):
                    raise ValueError(
                        f"{where} has {len(node)} items; {_describe(step)} is out of range"
                    )
                index = step
            else:
                fname, fvalue = step
                hits = [
                    j
                    for j, item in enumerate(node)
                    if isinstance(item, dict) and fname in item and str(item[fname]) == fvalue
                ]
                if len(hits) != 1:
                    have = sorted(
                        {
                            str(item[fname])
                            for item in node
                            if isinstance(item, dict) and fname in item
                        }
                    )
                    how = "no item" if not hits else f"{len(hits)} items"
                    listed = ", ".join(have) or "none"
                    raise ValueError(f"{where}: {how} with {fname} = {fvalue!r} (values: {listed})")
                index = hits[0]
            if last:
                return node, index
            node = node[index]
        where += _describe(step) if where else str(step)
    raise ValueError("empty path")  # pragma: no cover - parse_path never returns []


def set_path(data: Any, steps: list[Step], value: Any) -> None:
    """Set the value a path addresses (in place)."""
    container, key = resolve_slot(data, steps)
    container[key] = value
