"""Probe (docs/validation.md, section 2): the calibrated police scenario at its MAP with other
admission-count histories; prints the sworn-officer stock in the years of the published
headcounts and the model's school graduates of 2019 (published: 846 = 955 - 109 cadets).

    .venv/bin/python calibration/out/admissions_probe.py

Histories: the scenario's linear ramp 493 (2010) -> 812 (2019); the published counts found in
stored web pages (493 in 2010; 192 a year 2012-2014; 336 in 2015; 600 in 2016; 744 expected
for 2017; 812 in 2019) with 2011 and 2018 assumed (342 = linear 2010-2012; 900); the same with
2017 = 937 (what 846 graduates in 2019 need with the model's two-year school); and that at
lower officer attrition (the women/men ratio kept).
"""

import copy
import tomllib

from simulator.compiled import compile_scenario
from simulator.engine import FLOWS, run_expected_raw
from simulator.scenario import parse_scenario

with open("scenarios/dk_police_calibrated.toml", "rb") as fh:
    BASE = tomllib.load(fh)
BASE.pop("posterior", None)


def run(intake: dict, label: str, attrition: float | None = None) -> None:
    d = copy.deepcopy(BASE)
    d["recruitment"]["intake"] = intake
    if attrition is not None:
        for a in d["attrition"]:
            if a["grade"] == "police_officers":
                ratio = a["women"] / a["men"]
                a["men"], a["women"] = attrition, attrition * ratio
    c = compile_scenario(parse_scenario(d))
    r = run_expected_raw(c)
    pops = c.populations
    stock = "  ".join(
        f"{y}: {r.stock[0, y - c.start_year][pops['sworn_officers']].sum():,.0f}"
        for y in (2011, 2014, 2018, 2022)
    )
    flows = r.flows[0, 2019 - c.start_year - 1][pops["police_officers"]]
    grads = flows[:, :, FLOWS.index("promoted_in")].sum()
    print(f"{label:<34} sworn {stock}  school graduates 2019: {grads:,.0f}")


published = {
    "2010": 493,
    "2011": 342,
    "2012": 192,
    "2015": 336,
    "2016": 600,
    "2017": 744,
    "2018": 900,
    "2019": 812,
}
print(
    "published headcounts              sworn 2011: 10,822  2014: 10,566  2018: 11,128  "
    "2022: 11,423  school graduates 2019: 846"
)
run(BASE["recruitment"]["intake"], "linear ramp 493 -> 812 (shipped)")
run(published, "published counts")
run(published | {"2017": 937}, "published, 2017 = 937")
for a in (0.03, 0.035, 0.04):
    run(published | {"2017": 937}, f"published, 2017 = 937, attr. {a}", a)
