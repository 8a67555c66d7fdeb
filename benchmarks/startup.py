"""Time from launching the studio to its first painted window (torch must not load before it)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from _common import ROOT, percentile, table

CHILD = """
import sys, time
t_import = time.time()
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv)
from studio.ui.app import build_window
w = build_window(preload=False)
w.show()
def first_paint():
    print(f"{time.time():.6f} {t_import:.6f} {int('torch' in sys.modules)}", flush=True)
    app.quit()
QTimer.singleShot(0, first_paint)
app.exec()
"""


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    totals, torch_loaded = [], []
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "GENSTUDIO_DATA_DIR": data, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        for _ in range(runs):
            t0 = time.time()
            out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                                 check=True)
            shown, _imp, torch_flag = out.stdout.split()
            totals.append(float(shown) - t0)
            torch_loaded.append(torch_flag == "1")
    print(f"platform {env['QT_QPA_PLATFORM']}, {runs} cold-process launches")
    print(table([(f"{percentile(totals, 50):.2f}", f"{max(totals):.2f}", any(torch_loaded))],
                ("median s to first window", "worst s", "torch loaded before window")))


if __name__ == "__main__":
    main()
