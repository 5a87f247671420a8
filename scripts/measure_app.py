"""Time the app as a person sees it: server start to the first Explore page, and a lever change.

Each *run* starts a fresh Streamlit server (free 127.0.0.1 port) and opens the app in a fresh
headless-Chromium context (empty browser cache), both from the system Chromium
(``/usr/bin/chromium``; never ``playwright install``). The browser is launched once, before
the first server, so its own start-up is not counted (a user's browser is already open).

Times are seconds from ``Popen`` of the server. They are taken **in the page**: a script added
to every browser context (:data:`PAGE_CLOCK_JS`) watches the page's DOM and records
``performance.now()`` the moment each condition below first holds, converted to the same clock
as ``Popen`` through ``Date.now() - performance.now()`` read when the times are collected.
Playwright's waits only decide when to read them: its ``expect`` re-checks a condition after
100, 250, 500 and then every 1,000 ms, so a time read off ``expect`` alone lags the page by up
to a second (such times, which earlier versions of this script reported, are kept in
``--json`` as ``*_poll``).

* ``health``    ``GET /_stcore/health`` first answers ``ok`` (polled every 20 ms); the page is
                requested at that moment;
* ``connected`` the front end has loaded and opened its websocket (``stApp`` has
                ``data-test-connection-state="CONNECTED"``);
* ``metric``    the first target card's "Probability met" shows a percentage;
* ``ready``     ... and the fan chart (the first Vega-Lite chart) has painted: a
                non-transparent pixel in its canvas (checked every animation frame once the
                canvas exists), or marks in its SVG — the "first page ready" of issue #6.

Then, on the same (warm) server:

* ``new_tab``   a second fresh context opening the same URL, to ready;
* ``lever``     on ``dk_police`` (or ``--lever-scenario``) at the default 500 replications:
                switch the vacancy-odds lever on, type odds (3, then 2.75, ...) and press
                Enter; seconds from the Enter key's ``keydown`` in the page until the run's
                caption shows the new scenario's sha256 and no script run is in progress,
                plus two animation frames (the cards and charts have drawn again). One value
                per ``--levers``.

Usage (from the repository root)::

    .venv/bin/python scripts/measure_app.py --runs 5                 # make run's command
    .venv/bin/python scripts/measure_app.py --runs 5 --launcher main # streamlit run app/main.py
    .venv/bin/python scripts/measure_app.py --runs 4 --launcher serve \
        --launcher main@/tmp/old  # alternate with an older app/ exported to /tmp/old/app
    .venv/bin/python scripts/measure_app.py --runs 3 --json out.json

``--launcher serve`` (the default) starts ``python -m app.serve`` (what ``make run`` starts);
``--launcher main`` starts plain ``python -m streamlit run app/main.py``, for comparison;
``--launcher floor`` starts ``scripts/floor_app.py`` (one metric and one small chart: what any
Streamlit page needs on this machine; no lever changes are timed on it).
The load average is printed with every run, since the box is shared and timings are noisy, and
so is the CPU *steal* during the run (the share of CPU time a virtual machine's hypervisor gave
to other guests, from ``/proc/stat``): on a VM, times with steal above a few per cent measure
the host as much as the app (``steal``: from the server's start to the first page read).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
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
    free_port,
    kill_group,
    start_server,
    wait_healthy,
    wait_idle,
)

VIEWPORT = {"width": 1280, "height": 2400}
PERCENT = re.compile(r"^\d{1,3}\.\d %$")
LAUNCHERS = {
    "serve": [sys.executable, "-m", "app.serve"],
    "main": [sys.executable, "-m", "streamlit", "run", "app/main.py"],
    # Streamlit's floor: one metric and one small chart, nothing of Parity (no levers to time)
    "floor": [sys.executable, "-m", "streamlit", "run", "scripts/floor_app.py"],
}
TIMEOUT_MS = 60_000

# Records, in page time (performance.now(), ms), when each condition first holds; see the
# module docstring. `window.__parityClock.lever` is re-armed by each Enter keydown.
PAGE_CLOCK_JS = r"""
(() => {
  const clock = { lever: null, levers: [] };
  window.__parityClock = clock;
  const PERCENT = /^\d{1,3}\.\d %$/;
  const probability = () => {
    for (const m of document.querySelectorAll('[data-testid=stMetric]')) {
      if (m.textContent.includes('Probability met')) {
        const v = m.querySelector('[data-testid=stMetricValue]');
        return v ? v.textContent.trim() : null;
      }
    }
    return null;
  };
  const stamp = () => {
    for (const c of document.querySelectorAll('[data-testid=stCaptionContainer]')) {
      if (c.textContent.includes('scenario sha256')) return c.textContent.trim();
    }
    return null;
  };
  const chart = () => {  // the fan chart (the page's first Vega-Lite chart) once it has a view
    const el = document.querySelector('[data-testid=stVegaLiteChart]');
    return el && el.querySelector('canvas, svg') ? el : null;
  };
  const painted = (el) => {
    const c = el.querySelector('canvas');
    if (!c) return !!el.querySelector('svg .mark-group, svg .mark-area, svg .mark-line');
    const ctx = c.getContext('2d');
    if (!ctx || c.width === 0 || c.height === 0) return false;
    const data = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < data.length; i += 4 * 7) if (data[i] !== 0) return true;
    return false;
  };
  const check = () => {
    const t = performance.now();
    const app = document.querySelector('[data-testid=stApp]');
    if (clock.connected == null && app &&
        app.getAttribute('data-test-connection-state') === 'CONNECTED') clock.connected = t;
    const p = probability();
    if (clock.metric == null && p && PERCENT.test(p)) clock.metric = t;
    const el = clock.metric != null && !clock.painting ? chart() : null;
    if (el) {
      // Vega sizes its canvas before it paints (asynchronously): from then on, look each
      // frame for a painted (non-transparent) pixel; an SVG's marks are its paint.
      clock.painting = true;
      const poll = () => {
        if (painted(el)) clock.ready = performance.now();
        else requestAnimationFrame(poll);
      };
      poll();
    }
    const lv = clock.lever;
    if (lv && lv.done == null && lv.waiting !== true && stamp() !== lv.before && app &&
        app.getAttribute('data-test-script-state') === 'notRunning') {
      lv.waiting = true;
      requestAnimationFrame(() => requestAnimationFrame(() => {
        lv.done = performance.now();
        clock.levers.push(lv.done - lv.enter);
      }));
    }
  };
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') clock.lever = { enter: performance.now(), before: stamp() };
  }, true);
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true });
})();
"""


def page_times(page: Any, t0_wall: float) -> dict[str, float]:
    """The page clock's times as seconds since ``t0_wall`` (``time.time()`` at Popen)."""
    got = page.evaluate(  # wall clock = Date.now() - performance.now() + a page time
        "() => { const c = window.__parityClock || {};"
        " const o = Date.now() - performance.now();"
        " const out = {}; for (const k of ['connected', 'metric', 'ready'])"
        " if (c[k] != null) out[k] = (o + c[k]) / 1000; return out; }"
    )
    return {k: v - t0_wall for k, v in got.items()}


TWO_FRAMES_JS = (
    "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_times() -> list[int] | None:
    """The machine's CPU time counters (``/proc/stat``'s first line), or None where absent."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """The share of CPU time the hypervisor took between two :func:`cpu_times` (the 8th
    counter, ``steal``): time this VM's processes were ready but another guest ran."""
    if before is None or after is None or len(before) < 8 or len(after) < 8:
        return None
    total = sum(after[:8]) - sum(before[:8])
    return (after[7] - before[7]) / total if total > 0 else None


def run_stamp(page: Any) -> Any:
    """The caption naming the run (replications, seed, the scenario's sha256)."""
    return page.get_by_test_id("stCaptionContainer").filter(has_text="scenario sha256").first


def probability(page: Any) -> Any:
    metric = page.get_by_test_id("stMetric").filter(has_text="Probability met").first
    return metric.get_by_test_id("stMetricValue")


def new_context(browser: Any) -> Any:
    """A fresh browser context (empty cache) with the page clock installed."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(PAGE_CLOCK_JS)
    return context


def wait_ready(page: Any, t0: float, t0_wall: float, out: dict[str, float]) -> None:
    """Wait for the first page; fill ``out`` with the page clock's connected / metric / ready
    times and, as ``*_poll``, the times Playwright's waits returned (seconds since start)."""
    from playwright.sync_api import expect

    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=TIMEOUT_MS)
    out["connected_poll"] = time.monotonic() - t0
    expect(probability(page)).to_have_text(PERCENT, timeout=TIMEOUT_MS)
    out["metric_poll"] = time.monotonic() - t0
    page.wait_for_function(  # the page clock's own test of a painted fan chart
        "() => window.__parityClock && window.__parityClock.ready != null",
        timeout=TIMEOUT_MS,
        polling="raf",
    )
    out["ready_poll"] = time.monotonic() - t0
    out.update(page_times(page, t0_wall))


def measure_levers(
    browser: Any, url: str, n: int, scenario: str = "dk_police"
) -> tuple[list[float], list[float]]:
    """Seconds from Enter on a new odds value to the redrawn page (``scenario``, 500 reps), by
    the page clock and as Playwright's waits returned them."""
    from playwright.sync_api import expect

    context = new_context(browser)
    try:
        page = context.new_page()
        page.goto(f"{url}/?scenario={scenario}&reps=500")
        wait_ready(page, time.monotonic(), time.time(), {})
        wait_idle(page, TIMEOUT_MS)
        page.get_by_text("Change women's odds in vacancy promotions").click()
        odds = page.get_by_role("spinbutton", name="Women's relative odds of selection")
        expect(odds).to_be_visible(timeout=TIMEOUT_MS)
        wait_idle(page, TIMEOUT_MS)
        times, polled = [], []
        for i in range(n):
            value = f"{3 - 0.25 * i:g}"
            before = run_stamp(page).inner_text().strip()
            odds.fill(value)
            t = time.monotonic()
            odds.press("Enter")
            expect(run_stamp(page)).not_to_have_text(before, timeout=TIMEOUT_MS)
            wait_idle(page, TIMEOUT_MS)
            page.evaluate(TWO_FRAMES_JS)
            polled.append(time.monotonic() - t)
            page.wait_for_function(
                f"() => window.__parityClock.levers.length >= {i + 1}", timeout=TIMEOUT_MS
            )
            times.append(page.evaluate(f"() => window.__parityClock.levers[{i}]") / 1000)
        return times, polled
    finally:
        context.close()


def one_run(
    browser: Any,
    cmd: list[str],
    levers: int,
    log: Path,
    root: Path = ROOT,
    lever_scenario: str = "dk_police",
) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"load_before": loadavg()}
    cpu_before = cpu_times()
    context = new_context(browser)
    page = context.new_page()
    with log.open("wb") as fh:
        t0, t0_wall = time.monotonic(), time.time()
        proc = start_server(cmd, port, root, fh)
        try:
            try:
                wait_healthy(proc, url)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; see {log}") from None
            out["health"] = time.monotonic() - t0
            page.goto(url, wait_until="commit")
            wait_ready(page, t0, t0_wall, out)
            out["steal"] = steal_share(cpu_before, cpu_times())  # start to first page read
            context.close()

            context = new_context(browser)
            tab = context.new_page()
            t1, t1_wall = time.monotonic(), time.time()
            tab.goto(url, wait_until="commit")
            tab_times: dict[str, float] = {}
            wait_ready(tab, t1, t1_wall, tab_times)
            out["new_tab"] = tab_times["ready"]
            out["new_tab_poll"] = tab_times["ready_poll"]
            context.close()

            out["lever"], out["lever_poll"] = (
                measure_levers(browser, url, levers, lever_scenario)
                if levers and "floor_app" not in " ".join(cmd)
                else ([], [])
            )
        finally:
            with contextlib.suppress(Exception):
                context.close()
            kill_group(proc)
    out["load_after"] = loadavg()
    return out


def summary(runs: list[dict[str, Any]]) -> dict[str, str]:
    keys = ["health", "connected", "metric", "ready", "new_tab", "ready_poll", "new_tab_poll"]
    res = {}
    for key in keys:
        vals = [r[key] for r in runs if key in r]
        if vals:
            res[key] = f"{min(vals):.2f}-{max(vals):.2f} (median {statistics.median(vals):.2f})"
    steal = [r["steal"] for r in runs if r.get("steal") is not None]
    if steal:
        res["steal"] = f"{100 * min(steal):.1f}-{100 * max(steal):.1f} % (first pages)"
    for key in ("lever", "lever_poll"):
        lev = [v for r in runs for v in r.get(key, [])]
        if lev:
            res[key] = f"{min(lev):.2f}-{max(lev):.2f} (median {statistics.median(lev):.2f})"
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
    ap.add_argument(
        "--lever-scenario",
        default="dk_police",
        help="shipped scenario whose lever changes are timed (default dk_police; e.g. "
        "dk_police_calibrated, where each change recompiles the posterior draws)",
    )
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
                    r = one_run(browser, cmd, args.levers, log, root, args.lever_scenario)
                    runs[label].append(r)
                    lev = " ".join(f"{v:.2f}" for v in r["lever"])
                    lev_poll = " ".join(f"{v:.2f}" for v in r["lever_poll"])
                    print(
                        f"{label} run {i + 1}: health {r['health']:.2f}  "
                        f"connected {r['connected']:.2f}  metric {r['metric']:.2f}  "
                        f"ready {r['ready']:.2f} (polled {r['ready_poll']:.2f})  "
                        f"new tab {r['new_tab']:.2f} (polled {r['new_tab_poll']:.2f})  "
                        f"lever [{lev}] (polled [{lev_poll}])  "
                        f"load {r['load_before']} -> {r['load_after']}  "
                        f"steal {_pct(r['steal'])}",
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


def _pct(share: float | None) -> str:
    return "?" if share is None else f"{100 * share:.1f} %"


if __name__ == "__main__":
    sys.exit(main())
