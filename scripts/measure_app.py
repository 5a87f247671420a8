"""Time the app as a person sees it: server start to the first Explore page, and a lever change.

Each *run* starts a fresh Streamlit server (free 127.0.0.1 port) and opens the app in a fresh
headless-Chromium context (empty browser cache), both from the system Chromium
(``/usr/bin/chromium``; never ``playwright install``). The browser is launched once, before
the first server, so its own start-up is not counted (a user's browser is already open).

Times are seconds from ``Popen`` of the server:

* ``health``    ``GET /_stcore/health`` first answers ``ok`` (polled every 20 ms); the page is
                requested at that moment;
* ``connected`` the front end has loaded and opened its websocket (``stApp`` has
                ``data-test-connection-state="CONNECTED"``);
* ``metric``    the first target card's "Probability met" shows a percentage;
* ``ready``     ... and the fan chart (the first Vega-Lite chart) has drawn its marks
                (a non-empty canvas or SVG inside it) — the "first page ready" of issue #6.

Then, on the same (warm) server:

* ``new_tab``   a second fresh context opening the same URL, to ready;
* ``lever``     on ``dk_police`` at the default 500 replications: switch the vacancy-odds
                lever on, type odds (3, then 2, ...) and press Enter; seconds from the key
                press until the probability text has changed, no script run is in progress and
                the fan chart has drawn again (two animation frames later). One value per
                ``--levers``.

Usage (from the repository root)::

    .venv/bin/python scripts/measure_app.py --runs 5                 # make run's command
    .venv/bin/python scripts/measure_app.py --runs 5 --launcher main # streamlit run app/main.py
    .venv/bin/python scripts/measure_app.py --runs 4 --launcher serve \
        --launcher main@/tmp/old  # alternate with an older app/ exported to /tmp/old/app
    .venv/bin/python scripts/measure_app.py --runs 3 --json out.json

``--launcher serve`` (the default) starts ``python -m app.serve`` (what ``make run`` starts);
``--launcher main`` starts plain ``python -m streamlit run app/main.py``, for comparison.
The load average is printed with every run, since the box is shared and timings are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # a script: make the repository's packages importable
    sys.path.insert(0, str(ROOT))

from app.local_server import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    SERVER_FLAGS,
    free_port,
    health_ok,
    kill_group,
)

VIEWPORT = {"width": 1280, "height": 2400}
PERCENT = re.compile(r"^\d{1,3}\.\d %$")
LAUNCHERS = {
    "serve": [sys.executable, "-m", "app.serve"],
    "main": [sys.executable, "-m", "streamlit", "run", "app/main.py"],
}
TIMEOUT_MS = 60_000

# A chart has drawn when its Vega view holds a canvas with a size, or an SVG with marks.
CHART_DRAWN_JS = """
(el) => {
  const c = el.querySelector('canvas');
  if (c && c.width > 0 && c.height > 0) return true;
  const s = el.querySelector('svg .mark-group, svg .mark-area, svg .mark-line');
  return !!s;
}
"""
TWO_FRAMES_JS = (
    "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def probability(page: Any) -> Any:
    metric = page.get_by_test_id("stMetric").filter(has_text="Probability met").first
    return metric.get_by_test_id("stMetricValue")


def wait_ready(page: Any, t0: float, out: dict[str, float], prefix: str = "") -> None:
    """Fill ``out`` with connected / metric / ready times (seconds since ``t0``)."""
    from playwright.sync_api import expect

    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=TIMEOUT_MS)
    out[prefix + "connected"] = time.monotonic() - t0
    expect(probability(page)).to_have_text(PERCENT, timeout=TIMEOUT_MS)
    out[prefix + "metric"] = time.monotonic() - t0
    chart = page.get_by_test_id("stVegaLiteChart").first
    chart.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.wait_for_function(
        f"() => {{ const el = document.querySelector('[data-testid=stVegaLiteChart]');"
        f" return el && ({CHART_DRAWN_JS})(el); }}",
        timeout=TIMEOUT_MS,
        polling="raf",
    )
    out[prefix + "ready"] = time.monotonic() - t0


def wait_idle(page: Any) -> None:
    from playwright.sync_api import expect

    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=TIMEOUT_MS)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=TIMEOUT_MS)


def measure_levers(browser: Any, url: str, n: int) -> list[float]:
    """Seconds from Enter on a new odds value to the redrawn page (dk_police, 500 reps)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{url}/?scenario=dk_police&reps=500")
        wait_ready(page, time.monotonic(), {})
        wait_idle(page)
        page.get_by_text("Change women's odds in vacancy promotions").click()
        odds = page.get_by_role("spinbutton", name="Women's relative odds of selection")
        expect(odds).to_be_visible(timeout=TIMEOUT_MS)
        wait_idle(page)
        times = []
        for i in range(n):
            value = f"{3 - 0.25 * i:g}"
            before = probability(page).inner_text().strip()
            odds.fill(value)
            t = time.monotonic()
            odds.press("Enter")
            expect(probability(page)).not_to_have_text(before, timeout=TIMEOUT_MS)
            wait_idle(page)
            page.evaluate(TWO_FRAMES_JS)
            times.append(time.monotonic() - t)
        return times
    finally:
        context.close()


def one_run(
    browser: Any, cmd: list[str], levers: int, log: Path, root: Path = ROOT
) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"load_before": loadavg()}
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    with log.open("wb") as fh:
        t0 = time.monotonic()
        proc = subprocess.Popen(  # noqa: S603 (fixed command: this interpreter, local port)
            [*cmd, *SERVER_FLAGS, f"--server.port={port}"],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while not health_ok(f"{url}/_stcore/health"):
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited {proc.returncode}; see {log}")
                if time.monotonic() - t0 > 60:
                    raise RuntimeError(f"server not healthy after 60 s; see {log}")
                time.sleep(0.02)
            out["health"] = time.monotonic() - t0
            page.goto(url, wait_until="commit")
            wait_ready(page, t0, out)
            context.close()

            context = browser.new_context(viewport=VIEWPORT)
            tab = context.new_page()
            t1 = time.monotonic()
            tab.goto(url, wait_until="commit")
            tab_times: dict[str, float] = {}
            wait_ready(tab, t1, tab_times)
            out["new_tab"] = tab_times["ready"]
            context.close()

            out["lever"] = measure_levers(browser, url, levers) if levers else []
        finally:
            with contextlib.suppress(Exception):
                context.close()
            kill_group(proc)
    out["load_after"] = loadavg()
    return out


def summary(runs: list[dict[str, Any]]) -> dict[str, str]:
    keys = ["health", "connected", "metric", "ready", "new_tab"]
    res = {}
    for key in keys:
        vals = [r[key] for r in runs if key in r]
        if vals:
            res[key] = f"{min(vals):.2f}-{max(vals):.2f} (median {statistics.median(vals):.2f})"
    lev = [v for r in runs for v in r.get("lever", [])]
    if lev:
        res["lever"] = f"{min(lev):.2f}-{max(lev):.2f} (median {statistics.median(lev):.2f})"
    return res


def parse_config(text: str) -> tuple[str, list[str], Path]:
    """``LAUNCHER`` or ``LAUNCHER@ROOT`` -> (label, command, root)."""
    name, _, root = text.partition("@")
    if name not in LAUNCHERS:
        raise argparse.ArgumentTypeError(f"launcher must be one of {sorted(LAUNCHERS)}: {text}")
    return text, LAUNCHERS[name], Path(root) if root else ROOT


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3, help="fresh servers per launcher (default 3)")
    ap.add_argument(
        "--launcher",
        type=parse_config,
        action="append",
        help="serve (python -m app.serve, as make run; default) or main (python -m streamlit "
        "run app/main.py), optionally @ROOT: the directory to start it in, e.g. an export "
        "of an older app/ with the other folders linked, for a before/after comparison. "
        "Give several to alternate between them run by run (same machine state).",
    )
    ap.add_argument("--levers", type=int, default=3, help="lever changes per run (0: none)")
    ap.add_argument("--pause", type=float, default=2.0, help="seconds between runs")
    ap.add_argument("--json", type=Path, help="also write every run as JSON here")
    args = ap.parse_args(argv)
    configs = args.launcher or [parse_config("serve")]

    from playwright.sync_api import sync_playwright

    log = ROOT / "artifacts" / "measure-app-streamlit.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    for label, cmd, root in configs:
        print(f"{label}: {' '.join(cmd[1:])} in {root}", flush=True)
    print(f"load average: {loadavg()}  (nproc {os.cpu_count()})", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in configs}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for i in range(args.runs):
                for label, cmd, root in configs:
                    time.sleep(args.pause)
                    r = one_run(browser, cmd, args.levers, log, root)
                    runs[label].append(r)
                    lev = " ".join(f"{v:.2f}" for v in r["lever"])
                    print(
                        f"{label} run {i + 1}: health {r['health']:.2f}  "
                        f"connected {r['connected']:.2f}  metric {r['metric']:.2f}  "
                        f"ready {r['ready']:.2f}  new tab {r['new_tab']:.2f}  lever [{lev}]  "
                        f"load {r['load_before']} -> {r['load_after']}",
                        flush=True,
                    )
        finally:
            browser.close()
    for label, rs in runs.items():
        print(f"summary {label} ({len(rs)} runs; seconds min-max (median)):")
        for key, text in summary(rs).items():
            print(f"  {key:10s} {text}")
    print(f"load average now: {loadavg()}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
