"""Drive the real main window (offscreen unless a display is set) for the GUI benchmarks."""
from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GENSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="genstudio-bench-"))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def make_window(checkpoint: str):
    """A window whose model list includes the shipped checkpoints, with ``checkpoint`` selected."""
    app = QApplication.instance() or QApplication([])
    from studio.ui.app import build_window

    w = build_window(preload=False)
    w.show()
    if not w.model_panel.select("diffusion", checkpoint):
        raise SystemExit(f"checkpoint {checkpoint!r} is not installed")
    return app, w


def run_job(window, request, on_tick=None) -> float:
    """Submit ``request`` through the controller and wait for it; seconds from submit to result."""
    loop = QEventLoop()
    done = {}
    window.controller.jobFinished.connect(lambda _id, r: (done.setdefault("r", r), loop.quit()))
    window.controller.jobFailed.connect(lambda _id, msg: (done.setdefault("error", msg), loop.quit()))
    t0 = time.perf_counter()
    window.controller.submit(request)
    loop.exec()
    elapsed = time.perf_counter() - t0
    window.controller.jobFinished.disconnect()
    window.controller.jobFailed.disconnect()
    if "error" in done:
        raise SystemExit(done["error"])
    return elapsed


__all__ = ["make_window", "run_job", "QTimer"]
