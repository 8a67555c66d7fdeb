"""Slowdown caused by the live preview: a run through the studio window (the model thread, an event per
step, throttled repaints) against the bare core loop on the same thread and request. Goal: under 5%."""
from __future__ import annotations

import time

from _common import parser, table
from _gui import make_window, run_job, run_on_model_thread


def bare_loop(window, model, request) -> float:
    """The core generator alone, on the studio's model thread."""
    def work() -> float:
        t0 = time.perf_counter()
        for _frame in model.sample(request):
            pass
        return time.perf_counter() - t0

    return run_on_model_thread(window, work)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    app, window = make_window(args.checkpoint)
    base = window.current_request().with_(prompt="a sneaker", steps=args.steps, seed=1)
    run_job(window, base.with_(steps=2))  # load the model and the text encoder in the worker
    model = run_on_model_thread(window, lambda: window.controller.model(args.checkpoint))
    rows = []
    for batch in (1, 16):
        req = base.with_(batch_size=batch)
        bare, gui = [], []
        for _ in range(args.repeats):  # interleave so drift affects both alike
            bare.append(bare_loop(window, model, req))
            gui.append(run_job(window, req))
        b, g = min(bare), min(gui)
        rows.append((batch, args.steps, f"{b:.3f}", f"{g:.3f}", f"{100 * (g - b) / b:+.1f}%",
                     window.preview.frames_painted))
    print(table(rows, ("batch", "steps", "core loop s", "studio s", "slowdown", "repaints (last run)")))
    window.close()


if __name__ == "__main__":
    main()
