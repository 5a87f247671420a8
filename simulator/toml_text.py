"""TOML text to data: rtoml (a Rust parser) when it parses the text, else ``tomllib``.

rtoml parses the shipped calibrated scenarios (posterior draws: up to 380 KB of arrays) 10-13
times faster than the standard library's pure-Python ``tomllib`` (16 ms against 156 ms for the
whole scenario folder, best of 5), which the app's first page and every CLI command pay.
Both are TOML 1.0 parsers that build plain data (dicts, lists, str, int, float, bool, dates)
and never run anything. Text that rtoml refuses - invalid TOML, or nesting deeper than its
recursion limit - is parsed again by ``tomllib``, so the errors users see are ``tomllib``'s
(:class:`tomllib.TOMLDecodeError`, with line and column) and what ``tomllib`` accepts is
accepted. That the two agree on what both accept is tested (tests/test_toml_text.py: every
TOML file in the repository, and generated documents).
"""

from __future__ import annotations

import contextlib
import tomllib
from typing import Any

try:  # an optional speed-up: without it everything works, only slower
    from rtoml import loads as _fast_loads
except ImportError:  # pragma: no cover - rtoml is a declared dependency
    _fast_loads = None

TOMLDecodeError = tomllib.TOMLDecodeError


def loads(text: str) -> dict[str, Any]:
    """Parse TOML ``text``; raises :class:`tomllib.TOMLDecodeError` (or ``RecursionError``)
    exactly when ``tomllib.loads`` does."""
    if _fast_loads is not None:
        # rtoml's refusal is not the verdict: tomllib's is
        with contextlib.suppress(Exception):
            return _fast_loads(text)
    return tomllib.loads(text)
