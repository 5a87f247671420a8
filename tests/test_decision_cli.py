"""The decision-support CLI (simulator.decision_cli): each subcommand on a shipped scenario,
JSON output, and exit status 2 with field-level messages on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.decision_cli import main

ROOT = Path(__file__).resolve().parents[1]
POLICE = str(ROOT / "scenarios" / "dk_police.toml")
DEFENCE = str(ROOT / "scenarios" / "dk_defence.toml")


def test_solve_in_expectation_prints_the_answer(capsys):
    assert main(["solve", POLICE, "--lever", "promotion_floor:police_leaders"]) == 0
    out = capsys.readouterr().out
    assert "status: solved" in out
    assert "gives an expected police_leaders share of 20.00 % in 2030" in out


def test_solve_with_probability_json(capsys):
    code = main(
        [
            "solve",
            POLICE,
            "--target",
            "police-leaders-2030",
            "--lever",
            "women_odds:police_leaders",
            "--probability",
            "0.8",
            "--reps",
            "100",
            "--seed",
            "1",
            "--uncertainty-seeds",
            "1",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "solved"
    assert data["probability"] >= 0.8 > data["probability_not_met"]
    assert data["replications"] == 100
    assert len(data["uncertainty"]["values"]) == 2


def test_solve_unreachable_is_an_answer(capsys):
    assert main(["solve", POLICE, "--lever", "intake_women_share"]) == 0
    out = capsys.readouterr().out
    assert "status: not_reachable" in out
    assert "does not change it" in out


def test_reach_prints_a_path_per_target(capsys):
    assert main(["reach", DEFENCE]) == 0
    out = capsys.readouterr().out
    assert out.count("highest achievable share") == 2
    assert "2035" in out


def test_reach_json_with_stochastic(capsys):
    assert main(["reach", POLICE, "--reps", "50", "--seed", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["reachable"] is True
    assert data[0]["stochastic"]["replications"] == 50


def test_decompose_prints_terms(capsys):
    assert main(["decompose", DEFENCE, "--target", "chiefs-2035"]) == 0
    out = capsys.readouterr().out
    for word in ("inertia", "recruitment", "attrition", "promotion", "total"):
        assert word in out
    assert main(["decompose", DEFENCE, "--population", "officers", "--year", "2030", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    terms = {t["term"]: t["change"] for t in data[0]["terms"]}
    assert abs(sum(v for k, v in terms.items() if k != "total") - terms["total"]) < 1e-9


def test_compare_two_files(tmp_path, capsys):
    text = Path(POLICE).read_text().replace("women_odds = 1.0", "women_odds = 2.0")
    other = tmp_path / "police_odds2.toml"
    other.write_text(text)
    assert main(["compare", POLICE, str(other), "--reps", "100", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "paired differences" in out
    assert "promotions[to=police_leaders].women_odds: 1.0 → 2.0" in out
    assert "1 difference(s)" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["solve", POLICE, "--lever", "bogus"], "lever: unknown lever"),
        (["solve", POLICE, "--lever", "promotion_floor:police_officers"], "rate mode"),
        (
            ["solve", POLICE, "--lever", "intake_women_share", "--target", "nope"],
            "target: unknown target",
        ),
        (["solve", POLICE, "--lever", "intake_women_share", "--range", "0.5", "2"], "lever.range"),
        (
            ["solve", POLICE, "--lever", "intake_women_share", "--probability", "1.5"],
            "probability: must be between 0 and 1",
        ),
        (
            ["solve", POLICE, "--lever", "intake_women_share", "--from-year", "1990"],
            "lever.from_year",
        ),
        (["decompose", POLICE, "--population", "nope"], "population: unknown population"),
        (["compare", POLICE], "files: compare needs at least two"),
        (["reach", str(ROOT / "no-such-file.toml")], "cannot read file"),
    ],
)
def test_bad_input_exits_2_with_a_field_message(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err


def test_bad_option_value_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["solve", POLICE, "--lever", "intake_women_share", "--reps", "0"])
    assert exc.value.code == 2
    assert "--reps must be between 1" in capsys.readouterr().err
