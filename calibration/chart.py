"""The fit chart: every observation against its fitted value and intervals (hand-written SVG).

One row per observation, grouped in panels by unit (women's shares in per cent, headcounts in
persons), each panel with its own x axis. Per row: the posterior predictive interval (thin grey
bar), the posterior interval of the fitted value (thick blue bar), the fitted value at the
point estimate (blue dot) and the published value (black diamond; red when it lies outside the
predictive interval). Held-out observations of a back-test are labelled "held out".
No dependency beyond the standard library: the SVG is written as text.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from calibration.fit import Fit, ObservationFit

ROW, LEFT, WIDTH, RIGHT, PANEL_GAP = 22, 250, 480, 30, 46


def _scale(rows: list[ObservationFit], percent: bool) -> tuple[float, float]:
    vals = [v for o in rows for v in (o.observed, o.fitted, *o.predictive_interval)]
    lo, hi = min(vals), max(vals)
    pad = 0.06 * (hi - lo or abs(hi) or 1.0)
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    import math

    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def fit_svg(fit: Fit, title: str | None = None) -> str:
    """Return the fit chart as SVG text."""
    panels = [
        ("women's share (%)", [o for o in fit.observations if o.quantity == "women_share"], True),
        ("headcount (persons)", [o for o in fit.observations if o.quantity == "headcount"], False),
    ]
    panels = [p for p in panels if p[1]]
    height = 60 + sum(len(rows) * ROW + PANEL_GAP + 20 for _, rows, _ in panels) + 30
    total_w = LEFT + WIDTH + RIGHT
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{total_w}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">'
        f"{escape(title or fit.problem.name)}</text>",
        f'<text x="10" y="38" fill="#444">published (◆, red if outside the '
        f"{fit.level:.0%} predictive interval) vs fitted (● at the point estimate; blue bar: "
        f"{fit.level:.0%} posterior interval; grey: predictive)</text>",
    ]
    y0 = 60
    for label, rows, percent in panels:
        lo, hi = _scale(rows, percent)

        def x(v: float, lo: float = lo, hi: float = hi) -> float:
            return LEFT + (v - lo) / (hi - lo) * WIDTH

        out.append(f'<text x="10" y="{y0 + 4}" font-weight="bold">{escape(label)}</text>')
        top = y0 + 12
        bottom = top + len(rows) * ROW
        for t in _ticks(lo, hi):
            xt = x(t)
            text = f"{100 * t:.1f}" if percent else f"{t:,.0f}"
            out.append(
                f'<line x1="{xt:.1f}" y1="{top}" x2="{xt:.1f}" y2="{bottom}" stroke="#eee"/>'
                f'<text x="{xt:.1f}" y="{bottom + 13}" text-anchor="middle" fill="#555">'
                f"{text}</text>"
            )
        for i, o in enumerate(rows):
            yc = top + i * ROW + ROW / 2
            tag = "" if o.used else " (held out)"
            out.append(
                f'<text x="{LEFT - 8}" y="{yc + 4:.1f}" text-anchor="end">'
                f"{escape(o.id)}{tag}</text>"
            )
            p_lo, p_hi = o.predictive_interval
            f_lo, f_hi = o.fitted_interval
            out.append(
                f'<line x1="{x(p_lo):.1f}" y1="{yc:.1f}" x2="{x(p_hi):.1f}" y2="{yc:.1f}" '
                f'stroke="#bbb" stroke-width="3"/>'
                f'<line x1="{x(f_lo):.1f}" y1="{yc:.1f}" x2="{x(f_hi):.1f}" y2="{yc:.1f}" '
                f'stroke="#3b73b9" stroke-width="6" stroke-opacity="0.6"/>'
                f'<circle cx="{x(o.fitted):.1f}" cy="{yc:.1f}" r="4" fill="#3b73b9"/>'
            )
            xo = x(o.observed)
            colour = "black" if o.covered else "#c0392b"
            out.append(
                f'<path d="M{xo:.1f},{yc - 6:.1f} L{xo + 5:.1f},{yc:.1f} L{xo:.1f},{yc + 6:.1f} '
                f'L{xo - 5:.1f},{yc:.1f} Z" fill="{colour}"/>'
            )
        y0 = bottom + PANEL_GAP
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_fit_svg(fit: Fit, path: Path, title: str | None = None) -> Path:
    """Write the fit chart to ``path`` (SVG) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(fit_svg(fit, title), encoding="utf-8")
    return path
