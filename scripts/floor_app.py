"""The smallest page ``scripts/measure_app.py`` can time: Streamlit's own floor on a machine.

One metric labelled *Probability met* and one small Vega-Lite line chart: what "first page
ready" waits for on Explore, with none of Parity's work (no imports of the simulator, pandas or
Altair, no engine run, no other elements). ``measure_app.py --launcher floor --levers 0``
starts it with ``streamlit run``; the time it takes is what any Streamlit page needs on the
machine, before anything of ours.
"""

import streamlit as st

st.metric("Probability met", "12.3 %")
st.vega_lite_chart(
    {
        "data": {"values": [{"year": 2025, "share": 0.09}, {"year": 2030, "share": 0.12}]},
        "mark": "line",
        "encoding": {
            "x": {"field": "year", "type": "quantitative"},
            "y": {"field": "share", "type": "quantitative"},
        },
    }
)
