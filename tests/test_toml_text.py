"""simulator.toml_text parses with rtoml when it can and with tomllib otherwise.

What is checked: rtoml and tomllib give equal data on every TOML file in the repository and on
generated documents (hypothesis; tomli_w writes them); text either parser refuses raises
tomllib's TOMLDecodeError with its line and column; nesting beyond rtoml's recursion limit is
still parsed (by tomllib); and without rtoml everything still works. Deterministic: no α.
"""

from __future__ import annotations

import math
import subprocess
import tomllib
from pathlib import Path

import pytest
import rtoml
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import toml_text

ROOT = Path(__file__).resolve().parents[1]
REPO_TOML = sorted(
    ROOT / p
    for p in subprocess.run(
        ["git", "ls-files", "*.toml"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
)


def test_the_repository_has_toml_files_to_compare():
    assert len(REPO_TOML) >= 20
    assert ROOT / "scenarios" / "cph_leaders_calibrated.toml" in REPO_TOML


@pytest.mark.parametrize("path", REPO_TOML, ids=lambda p: str(p.relative_to(ROOT)))
def test_rtoml_and_tomllib_agree_on_every_repository_file(path):
    text = path.read_text(encoding="utf-8")
    assert rtoml.loads(text) == tomllib.loads(text)
    assert toml_text.loads(text) == tomllib.loads(text)


_key = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
_scalar = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_key, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_key, _value, max_size=6))
def test_rtoml_and_tomllib_agree_on_generated_documents(data):
    text = tomli_w.dumps(data)
    assert rtoml.loads(text) == tomllib.loads(text) == data


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_parse_to_the_same_double(x):
    literal = "nan" if math.isnan(x) else {math.inf: "inf", -math.inf: "-inf"}.get(x, repr(x))
    text = f"x = {literal}"
    a, b = toml_text.loads(text)["x"], tomllib.loads(text)["x"]
    assert (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize(
    "text",
    [
        "name = \n[[grades]\n",
        "x = 0x_1",
        "x = 1__2",
        "[a]\nb = 1\n[a]\nc = 2",
        "a.b = 1\na = 2",
        'x = "unterminated',
        "x = [1, 2",
        "x = 1\nx = 2",
    ],
)
def test_invalid_text_raises_tomllibs_error(text):
    with pytest.raises(tomllib.TOMLDecodeError) as ours:
        toml_text.loads(text)
    with pytest.raises(tomllib.TOMLDecodeError) as ref:
        tomllib.loads(text)
    assert str(ours.value) == str(ref.value)


def test_nesting_beyond_rtoml_limit_is_parsed_by_tomllib():
    text = "a = " + "[" * 150 + "]" * 150
    with pytest.raises(rtoml.TomlParsingError):
        rtoml.loads(text)
    assert toml_text.loads(text) == tomllib.loads(text)


def test_without_rtoml_tomllib_parses(monkeypatch):
    text = (ROOT / "scenarios" / "dk_police.toml").read_text(encoding="utf-8")
    expected = toml_text.loads(text)
    monkeypatch.setattr(toml_text, "_fast_loads", None)
    assert toml_text.loads(text) == expected
    with pytest.raises(tomllib.TOMLDecodeError):
        toml_text.loads("x = [1, 2")
