"""Drive the real main window (offscreen unless a display is set) for the GUI benchmarks."""
from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GENSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="genstudio-bench-"))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def make_window(checkpoint: str, family: str = "diffusion"):
    """A window whose model list includes the shipped checkpoints, with ``checkpoint`` selected."""
    app = QApplication.instance() or QApplication([])
    from studio.ui.app import build_window

    w = build_window(preload=False)
    w.show()
    if not w.model_panel.select(family, checkpoint):
        raise SystemExit(f"checkpoint {checkpoint!r} is not installed")
    return app, w


def run_job(window, request, on_tick=None) -> float:
    """Submit ``request`` through the controller and wait for its end; seconds from submit to result."""
    loop = QEventLoop()
    done: dict = {}

    def on_event(ev) -> None:
        if ev.job != done.get("id"):
            return
        if ev.kind == "result":
            done["r"] = ev.result
        elif ev.kind == "error":
            done["error"] = ev.message
        if ev.ends:
            loop.quit()

    window.controller.event.connect(on_event)
    t0 = time.perf_counter()
    done["id"] = window.controller.submit(request)
    loop.exec()
    elapsed = time.perf_counter() - t0
    window.controller.event.disconnect(on_event)
    if "error" in done:
        raise SystemExit(done["error"])
    return elapsed


def run_on_model_thread(window, work):
    """Run ``work()`` on the studio's model thread (where its jobs run: torch keeps one OpenMP team per
    calling thread, so timing on the GUI thread would compare two thread setups); its return value."""
    loop, out = QEventLoop(), {}

    def job(j):
        out["value"] = work()
        yield None

    window.controller.post(job, lambda ev: loop.quit() if ev.ends else None)
    loop.exec()
    return out["value"]


def wait_for(condition, timeout: float = 120.0, poll_ms: int = 1) -> None:
    """Run the event loop until ``condition()`` holds, checking it every ``poll_ms``. The loop is
    Qt's own (QEventLoop.exec), as in the app: a Python loop around processEvents() would keep the
    GUI thread in Python the whole time, which is neither what the app does nor safe while a
    worker thread imports modules (PySide6's import hook)."""
    if condition() and poll_ms == 1:
        return
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(poll_ms)
    end = time.perf_counter() + timeout

    def check():
        if condition() or time.perf_counter() > end:
            loop.quit()

    # wait_for(lambda: True, poll_ms=N) spins the event loop once for about N ms

    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    if not condition():
        raise SystemExit("timed out waiting for the window")


__all__ = ["make_window", "run_job", "run_on_model_thread", "wait_for", "QTimer"]
