"""Cost of the Compare view over generating the same images one by one. Goal: under 10%.

The default row (the panel's columns: one shipped checkpoint per family) on one prompt and seed:
  (a) direct: for each column in turn, ``model.sample(request)`` consumed to the end, with the request
      the compare view sends (the model's defaults with the prompt and seed, resolved); run on the
      compare thread, so both sides use the same models, the same thread and the same torch threads;
  (b) panel: the real ComparePanel (offscreen), from Run clicked until every column holds its final
      frame (the last one painted).
Models are loaded (and each path run once) before timing; rounds alternate which path goes first.
Per column, the panel's time is from the previous column's final frame (Run, for the first) to its
own, so the columns add up to the row. "worker loop" is the sampling loop as the compare job timed it
(events yielded per frame included) and "GUI ms" the time the panel's handler spent on the column's
events on the GUI thread (frames stored, converted, status): where overhead beyond the model goes."""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

# Before anything reads it: the scan and every write go to a throwaway folder, never the user's.
_DATA = tempfile.mkdtemp(prefix="genstudio-bench-")
os.environ["GENSTUDIO_DATA_DIR"] = _DATA

import numpy as np  # noqa: E402
from _common import table  # noqa: E402
from _gui import wait_for  # noqa: E402 (sets the offscreen platform)
from PySide6.QtCore import QEventLoop, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def on_compare_thread(controller, work):
    """``work()`` run as a job on the compare thread (where the panel samples); its return value."""
    loop, out = QEventLoop(), {}

    def job(j):
        out["value"] = work()
        yield None

    controller.runner.post(job, on_event=lambda ev: loop.quit() if ev.ends else None)
    loop.exec()
    if "value" not in out:
        raise SystemExit("the compare thread's job failed")
    return out["value"]


def direct_row(controller, ids: list[str], prompt: str, seed: int) -> tuple[list[float], dict]:
    """Seconds per column sampling directly, one after another; the final images."""
    def work():
        seconds, images = [], {}
        for checkpoint in ids:
            t0 = time.perf_counter()
            model = controller.model(checkpoint)  # loaded by the warm-up: a dict look-up
            request = model.resolve(model.default_request().with_(seed=seed, prompt=prompt))
            last = None
            for last in model.sample(request):
                pass
            seconds.append(time.perf_counter() - t0)
            images[checkpoint] = np.array(last.preview[0])
        return seconds, images

    return on_compare_thread(controller, work)


class PanelRun:
    """One row through the panel: Run clicked, the time each column's final frame arrived, the worker's
    own loop time and the GUI thread's handling time per column."""

    def __init__(self, panel) -> None:
        self.panel = panel
        self._handle = panel._on_run  # the bound method; run() binds self._on_run at each click
        panel._on_run = self._on_run

    def _on_run(self, column, ev) -> None:
        t0 = time.perf_counter()
        self._handle(column, ev)
        k = self.panel.columns.index(column)
        if ev.kind == "frame":
            self.frames[k] += 1
            if ev.frame.final:
                if k == len(self.panel.columns) - 1:
                    column.canvas.repaint()  # the last image shown is part of the row's time
                self.final_at[k] = time.perf_counter()
        elif ev.kind == "result":
            self.worker[k] = ev.result.seconds
            self.images[column.checkpoint] = ev.result.image
        elif ev.kind == "error":
            self.error = f"{column.checkpoint}: {ev.message}"
        self.gui[k] += time.perf_counter() - t0
        if self.error or all(t is not None for t in self.final_at):
            self._loop.quit()

    def __call__(self) -> tuple[list[float], "PanelRun"]:
        n = len(self.panel.columns)
        self.final_at: list[float | None] = [None] * n
        self.worker, self.gui, self.frames = [0.0] * n, [0.0] * n, [0] * n
        self.images: dict = {}
        self.error: str | None = None
        self._loop = QEventLoop()
        t0, cpu0 = time.perf_counter(), time.thread_time()
        QTest.mouseClick(self.panel.run_button, Qt.MouseButton.LeftButton)
        self._loop.exec()
        self.gui_cpu = time.thread_time() - cpu0  # all the GUI thread did meanwhile: events, paints, layouts
        if self.error:
            raise SystemExit(self.error)
        wait_for(lambda: not self.panel.running and self.panel.controller.runner.idle, poll_ms=5)  # untimed
        ends = [t0, *self.final_at]
        return [ends[k + 1] - ends[k] for k in range(n)], self


def pct(base: float, other: float) -> str:
    return f"{100 * (other - base) / base:+.1f}%"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--prompt", default="a sneaker")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    import torch

    from studio.ui.compare_panel import ComparePanel

    _app = QApplication.instance() or QApplication([])  # kept alive for the whole run
    if args.threads:
        torch.set_num_threads(args.threads)
    panel = ComparePanel()
    ids = panel.column_ids()
    if not ids:
        raise SystemExit("no shipped checkpoints to compare")
    controller = panel.controller

    def set_threads() -> int:  # the compare thread is where both paths sample
        if args.threads:
            torch.set_num_threads(args.threads)
        return torch.get_num_threads()

    threads = on_compare_thread(controller, set_threads)
    panel.prompt.setText(args.prompt)
    panel.seed.setValue(args.seed)
    panel.resize(1200, 800)
    panel.show()  # reads the cards: loads every column's model on the compare thread
    wait_for(lambda: controller.runner.idle, timeout=600, poll_ms=20)
    load_before = os.getloadavg()

    run_panel = PanelRun(panel)
    run_panel()  # warm-up: text encoder, first-call costs
    _, direct_images = direct_row(controller, ids, args.prompt, args.seed)
    direct: list[list[float]] = []
    through: list[list[float]] = []
    gui_cpu: list[float] = []
    order = []

    def run_a() -> None:
        direct.append(direct_row(controller, ids, args.prompt, args.seed)[0])

    def run_b() -> None:
        through.append(run_panel()[0])
        gui_cpu.append(run_panel.gui_cpu)

    for r in range(args.rounds):
        for fn in ((run_a, run_b) if r % 2 == 0 else (run_b, run_a)):  # alternate which goes first
            fn()
        order.append("a, b" if r % 2 == 0 else "b, a")
    load_after = os.getloadavg()
    same = all(np.array_equal(direct_images[c], run_panel.images[c]) for c in ids)

    rows = []
    for k, checkpoint in enumerate(ids):
        a = statistics.median(r[k] for r in direct)
        b = statistics.median(r[k] for r in through)
        family = next(i.family for i in panel.infos if i.id == checkpoint)
        rows.append((checkpoint, family, run_panel.frames[k], f"{a:.3f}", f"{b:.3f}", pct(a, b),
                     f"{run_panel.worker[k]:.3f}", f"{1000 * run_panel.gui[k]:.1f}"))
    a_row = [sum(r) for r in direct]
    b_row = [sum(r) for r in through]
    a, b = statistics.median(a_row), statistics.median(b_row)
    rows.append(("**whole row**", "", sum(run_panel.frames), f"{a:.3f}", f"{b:.3f}", f"**{pct(a, b)}**",
                 f"{sum(run_panel.worker):.3f}", f"{1000 * sum(run_panel.gui):.1f}"))

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {os.cpu_count()} CPUs ({cpus} usable), torch {torch.__version__} with {threads} thread(s) on "
          f"the compare thread, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"prompt {args.prompt!r}, seed {args.seed}; median of {args.rounds} interleaved rounds; "
          f"same final images both ways: {'yes' if same else 'NO'}\n")
    print(table(rows, ("column", "family", "frame events", "direct s", "panel s", "overhead",
                       "worker loop s (last)", "GUI ms (last)")))
    print()
    print(table([(r + 1, order[r], f"{a_row[r]:.3f}", f"{b_row[r]:.3f}", pct(a_row[r], b_row[r]))
                 for r in range(args.rounds)], ("round", "order", "direct row s", "panel row s", "overhead")))
    print(f"\nGUI thread CPU per panel row: {1000 * statistics.median(gui_cpu):.1f} ms (median), "
          f"{1000 * sum(run_panel.gui):.1f} ms of it in the panel's event handler (last run); the rest is repaints, "
          "layouts and event delivery. Where the CPUs are busy, this time is taken from the sampling thread.")
    print("Goal: the panel's row under 10% over the direct row.")
    panel.shutdown()
    panel.close()
    shutil.rmtree(_DATA, ignore_errors=True)


if __name__ == "__main__":
    main()
