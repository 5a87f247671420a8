"""About page: the model contract in plain language, and what the two engines are."""

from __future__ import annotations

import streamlit as st

from app import components as C
from app import state
from simulator import __version__

st.title("About the model")
st.caption(
    f"Parity {__version__} · the exact rules are stated in the code's documentation "
    "(simulator/engine.py) and in docs/scenario-format.md"
)

st.markdown(
    """
Parity answers three questions about the share of women in an organisation: **can a target
be reached, by when, and how likely is it** under the scenario's assumptions?

### What is modelled

An organisation is a **ladder of grades**, from the entry grade to the top (for example police
students → police officers → police leaders). Stages that are not jobs, such as students or
conscripts, are grades too, but they are not counted in the workforce. Every person is a woman
or a man and has a number of completed years in their grade; every rate, flow and result is
kept separately for women and men.

The state is the headcount at the **end of each year**. The scenario's start year is the year
whose year-end headcount is known; the projection covers the years after it.

### One simulated year

1. **Leave, move up or stay.** Everyone either leaves (all reasons, retirement included), is
   promoted to the next grade at an annual rate (only once they have served the minimum years
   in grade), or stays.
2. **Fill vacant posts, top grade first.** Where a grade has a fixed number of posts, the
   vacancies are filled — partly from outside if the scenario says so, the rest from the
   eligible people in the grade below. The choice between eligible women and men can be
   gender-neutral or weighted (relative odds for a woman), and a floor on the women's share of
   promotions can be set; a floor is only met as far as eligible women exist. Working from the
   top down lets one vacancy ripple down the ladder within the same year.
3. **Recruit** into the entry grade: a fixed number a year, enough to refill the entry grade,
   or enough to follow a growth path. The women's share of the intake is set per year.
4. **Age** by one year in grade; recruits and newly promoted people start at zero years.

Any parameter can change over time through dated **policies** (a new intake share from 2027,
a ramp in promotion odds, …).

### The two engines

* The **expected engine** runs the year on average values (fractional people). It is quick and
  deterministic: the dashed line in the charts. Where only rates are involved it is exactly the
  average of the Monte Carlo runs; where vacancies or floors bind it is a close approximation.
* The **stochastic engine** (Monte Carlo) draws whole people: who leaves, who is promoted, how
  many women are among the recruits. Running it hundreds of times shows the **spread of
  outcomes** that chance alone produces, which matters most in small grades: among 900 leaders,
  a few people more or less move the share by a percentage point.

### Reading the Explore page

* **Probability met** — the share of Monte Carlo runs in which the target holds at its deadline
  (or at every year from the deadline on, for a sustained target). The 95 % interval under it
  is the Monte Carlo error only; more replications narrow it.
* **Median share and 5–95 % band** — the women's share at the deadline across runs.
* **Expected-engine share** — the deterministic path at the deadline.
* **First year met** — the median, over runs, of the first year-end at which the condition holds.

### Reproducible randomness

All random draws come from seeded streams, one per replication block and decision, so the same
scenario with the same seed and number of replications gives identical results on any machine,
and two scenarios that differ in one lever share every other random draw (so the difference
between them is mostly the lever's effect, not noise). The seed is part of the page's URL.

### What the numbers do not include

The uncertainty shown is **chance only**: the rates themselves are taken as given. Many rates in
the shipped scenarios are **assumptions, not published figures** — each is labelled as such
under *Assumptions and sources* on the Explore page. Read results as "what these assumptions
imply", not as a forecast.
"""
)


def assumption_cards() -> None:
    """One card per block of the current scenario: its source, or the assumption it rests on."""
    state.adopt_url_view()
    view = state.current()
    if view is None:
        return
    st.query_params.from_dict(view.get("url", {}))
    scenario = state.scenario_from_json(view["base_json"])
    st.header("Assumptions of the current scenario")
    st.caption(
        f"{C.md_escape(scenario.name)} — every number states where it comes from: a published "
        "source (with the line or page) or an assumption (what is assumed, and why)."
    )
    rows = C.provenance_rows(scenario)
    n_assumed = sum(1 for r in rows if r["assumption"])
    st.markdown(
        f"**{len(rows)}** blocks · **{sum(1 for r in rows if r['source'])}** cite a source · "
        f"**{n_assumed}** rest (also) on an assumption"
    )
    cols = st.columns(2)
    for i, row in enumerate(rows):
        with cols[i % 2].container(border=True):
            st.markdown(f"**{C.md_escape(row['block'])}**")
            if row["source"]:
                ids = C._ids(row["source"])
                titles = [scenario.sources[s].title for s in ids if s in scenario.sources]
                title = f" — {C.md_escape('; '.join(titles))}" if titles else ""
                where = f" ({C.md_escape(row['locator'])})" if row["locator"] else ""
                st.markdown(f":blue-badge[Source] `{', '.join(ids)}`{title}{where}")
            if row["assumption"]:
                st.markdown(f":orange-badge[Assumption] {C.md_escape(row['assumption'])}")


state.guarded(assumption_cards, "About")
