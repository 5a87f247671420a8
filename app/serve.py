"""Start the app with a warm-up: ``python -m app.serve [streamlit options]`` (``make run``).

The same as ``python -m streamlit run app/main.py [options]`` (every option is passed on to
``streamlit run``), plus one background thread. As soon as the server is up, the thread does
the first page's work — the imports (simulator, pandas) and the engine run of the
default scenario at its default replications and seed with its chart specs
(:func:`app.state.warm_up`, into the shared ``st.cache_data`` caches) — while the browser is
still loading Streamlit's front end. The first page then finds its results cached; if it
comes sooner it waits for the computation under way (one compute lock per cache key) rather
than repeating it. The results are real: the same function, inputs and cache as a page run.

The thread starts its work only once the server's runtime has started, so that it does not
delay the server's health check (the browser cannot load anything before that). A failure in
the warm-up is logged and changes nothing else: pages compute on demand as without it.
Set ``PARITY_NO_WARMUP=1`` to start without the thread (for timing comparisons).

With the warm-up, Python's garbage collector is off from the start until the warm-up ends;
then every object alive (modules, classes, the warm-up's results: about 100,000) is frozen
out of its reach (``gc.freeze``) and it is switched back on; so are SciPy's modules once the
preload thread has imported them (:data:`app.state.AFTER_PRELOAD`). In a server trace, full
collections had taken 40-90 ms during the start and 75-205 ms at each lever change of
``dk_police_calibrated``, growing with every cached posterior; after these changes and
:func:`simulator.posterior.compile_draws` keeping no parsed scenario per draw, 2-10 ms.

It also skips one step of Streamlit's start: the runtime scans the metadata of every installed
distribution for custom-component manifests (components v2) before the server answers, 0.14 s
warm and 0.4 s cold on our test machine, with a thread pool. Parity uses no custom component
(a test checks that the scan finds none in the project's environment), so ``app.serve`` makes
the scan return nothing (:func:`skip_component_scan`). ``streamlit run app/main.py`` still scans.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parent / "main.py"
ROOT = APP.parents[1]
RUNTIME_WAIT_S = 15.0  # warm up anyway if the runtime has not started by then
WARMUP_SWITCH_INTERVAL_S = 0.0005  # Python's default is 0.005
LOGGER_NAME = "parity.app.serve"


def _wait_for_runtime(timeout: float = RUNTIME_WAIT_S) -> bool:
    """Wait until Streamlit's runtime has started (the server accepts sessions)."""
    from streamlit.runtime import Runtime, RuntimeState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Runtime.exists() and Runtime.instance().state not in (RuntimeState.INITIAL,):
            return True
        time.sleep(0.02)
    return False


def warm_up() -> None:
    """The thread's work: wait for the server, then fill the first page's caches; in every
    case, switch the garbage collector back on at the end (:func:`settle_garbage_collector`)."""
    interval = sys.getswitchinterval()
    log = None
    try:
        from streamlit.logger import get_logger  # Streamlit's format and level (logger.level)

        log = get_logger(LOGGER_NAME)
        started = _wait_for_runtime()
        # While this thread computes, the server thread is serving the front end's files to
        # the browser: a short GIL switch interval lets it answer each request promptly.
        sys.setswitchinterval(WARMUP_SWITCH_INTERVAL_S)
        t0 = time.perf_counter()
        from app import state  # the heavy imports: simulator, pandas (no Altair)

        state.AFTER_PRELOAD.append(gc.freeze)  # SciPy's modules too, once imported

        t1 = time.perf_counter()
        key = state.warm_up()
        t2 = time.perf_counter()
        log.info(
            "warm-up done%s: imports %.2f s, default run %s %.2f s",
            "" if started else " (runtime not seen)",
            t1 - t0,
            "none" if key is None else f"({key[1]} replications, seed {key[2]})",
            t2 - t1,
        )
    except Exception:  # the warm-up is an optimisation: never let it take the server down
        if log is not None:
            log.exception("warm-up failed; pages compute on demand")
    finally:
        sys.setswitchinterval(interval)
        settle_garbage_collector()


def settle_garbage_collector() -> None:
    """End of the warm-up: move every object alive now (modules, classes, the warm-up's
    results) out of the garbage collector's reach and switch it back on.

    ``main`` switches the collector off until then: the start-up's full collections (40-90 ms
    each, measured in a server trace) would fall on the first page's path, and later full
    collections - Streamlit runs one after every script run (``runner.postScriptGC``, which
    also runs while the collector is off, so memory stays bounded meanwhile) - would scan
    the start-up's 100,000 objects again at every lever change. Nearly all objects frozen
    here live as long as the server anyway; the garbage cycles among them (about 1,100
    objects, 0.6 MB, in a reviewer's replay) are never freed: a one-time cost. The second
    freeze, after the SciPy preload (a few seconds into the first session), also pins what
    that session holds at that moment (its widgets' state, cache entries then alive) if it
    later becomes cyclic garbage: also one-time and bounded.
    """
    gc.freeze()
    gc.enable()


def skip_component_scan() -> bool:
    """Make Streamlit's custom-component manifest scan find nothing; True if it was there."""
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:  # another Streamlit: nothing to skip
        return False
    if not hasattr(manifest_scanner, "scan_component_manifests"):
        return False
    manifest_scanner.scan_component_manifests = _no_manifests
    return True


def _no_manifests(*_args: object, **_kwargs: object) -> list:
    return []


def main(argv: list[str] | None = None) -> None:
    """Start the warm-up thread, then ``streamlit run app/main.py`` with ``argv``."""
    args = sys.argv[1:] if argv is None else argv
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    skip_component_scan()
    if os.environ.get("PARITY_NO_WARMUP") != "1":
        gc.disable()  # until the warm-up ends: settle_garbage_collector
        try:
            threading.Thread(target=warm_up, name="parity-warm-up", daemon=True).start()
        except RuntimeError:  # no thread: no warm-up, and the collector as usual
            gc.enable()
    from streamlit.web import cli

    cli.main(["run", str(APP), *args], prog_name="streamlit")


if __name__ == "__main__":
    main()
