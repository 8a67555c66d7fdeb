"""GUI event-loop latency while a generation runs: a 5 ms timer's lateness, p50/p99. Goal: p99 < 50 ms."""
from __future__ import annotations

import time

from _common import parser, percentile, table
from _gui import QTimer, make_window, run_job

INTERVAL_MS = 5


def measure(window, request) -> list[float]:
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(max(0.0, (now - last[0]) * 1000 - INTERVAL_MS))
        last[0] = now

    timer = QTimer()
    timer.setInterval(INTERVAL_MS)
    timer.timeout.connect(tick)
    timer.start()
    if request is None:
        from PySide6.QtCore import QEventLoop

        loop = QEventLoop()
        QTimer.singleShot(2000, loop.quit)
        loop.exec()
    else:
        run_job(window, request)
    timer.stop()
    return gaps[1:]


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--steps", type=int, default=200)
    args = p.parse_args()
    app, window = make_window(args.checkpoint)
    base = window.current_request().with_(prompt="an ankle boot", steps=args.steps, seed=2)
    run_job(window, base.with_(steps=2))  # warm: model and encoder loaded
    rows = []
    for label, req in (("idle", None), ("generating, batch 1", base), ("generating, batch 16", base.with_(batch_size=16)),
                       ("generating, batch 16, with x_t", "noisy")):
        if req == "noisy":
            window.preview.show_noisy.setChecked(True)
            req = base.with_(batch_size=16)
        lat = measure(window, req)
        rows.append((label, len(lat), f"{percentile(lat, 50):.1f}", f"{percentile(lat, 99):.1f}", f"{max(lat):.1f}"))
    print(f"timer interval {INTERVAL_MS} ms; latency = lateness of each tick")
    print(table(rows, ("while", "ticks", "p50 ms", "p99 ms", "max ms")))
    window.close()


if __name__ == "__main__":
    main()
