"""Slider-to-image latency of the latent panel (VAE and GAN) in the running window: from a slider's valueChanged
to the decoded image painted on the preview canvas, p50/p99 over many moves. Goal: under 50 ms.

Measured idle and while a diffusion job (batch 16) runs on the generation thread, for each shipped
VAE and GAN; plus the latent map's redraw (a full plane of decoded tiles)."""
from __future__ import annotations

import time

import numpy as np
from _common import parser, percentile, table
from _gui import make_window, run_job, wait_for


def slider_latency(window, moves: int) -> list[float]:
    lx, panel = window.latent, window.latent.panel
    shown = {"n": lx.decodes_shown}
    times = []
    rng = np.random.default_rng(0)
    for _ in range(moves):
        slider = panel.sliders[int(rng.integers(len(panel.sliders)))]
        target = int(rng.integers(slider.minimum(), slider.maximum()))
        if target == slider.value():
            continue
        before = lx.decodes_shown
        t0 = time.perf_counter()
        slider.setValue(target)
        wait_for(lambda: lx.decodes_shown > before)
        window.preview.canvas.repaint()  # the paint itself is part of the latency
        times.append((time.perf_counter() - t0) * 1000)
    shown["n"] = lx.decodes_shown
    return times


def slider_during_map(window, trials: int) -> list[float]:
    """A slider move made just after a map redraw started: the redraw must not hold it up."""
    m, lx = window.latent.map, window.latent
    times = []
    for k in range(trials):
        m.tiles.setValue(15 if k % 2 else 14)
        wait_for(lambda: True, poll_ms=5)  # let the worker start on the plane
        slider = lx.panel.sliders[k % len(lx.panel.sliders)]
        before = lx.decodes_shown
        t0 = time.perf_counter()
        slider.setValue(slider.value() + (50 if slider.value() < 0 else -50))
        wait_for(lambda: lx.decodes_shown > before)
        times.append((time.perf_counter() - t0) * 1000)
        wait_for(lambda: m._shown_key == m._key)
    return times


def map_latency(window, redraws: int) -> list[float]:
    m = window.latent.map
    times = []
    for k in range(redraws):
        m.tiles.setValue(15 if k % 2 else 14)  # a new plane each time
        key = m._key
        t0 = time.perf_counter()
        wait_for(lambda: m.image.image is not None and m._shown_key == key)
        m.plot.repaint()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--moves", type=int, default=300)
    p.add_argument("--vae", nargs="*", default=["vae-fmnist-2d", "vae-fmnist-32d-text"])
    p.add_argument("--gan", nargs="*", default=["gan-faces", "gan-fmnist"])
    args = p.parse_args()
    rows = []
    app, window = make_window(args.checkpoint)  # diffusion first: it provides the background job
    busy_request = window.current_request().with_(prompt="a coat", steps=1000, batch_size=16, seed=1)
    run_job(window, busy_request.with_(steps=2))  # the diffusion model and text encoder are loaded
    for family, vae in [("vae", c) for c in args.vae] + [("gan", c) for c in args.gan]:
        if not window.model_panel.select(family, vae):
            raise SystemExit(f"{vae} is not installed")
        window.prompt_panel.set_text("a sneaker")
        wait_for(lambda: window.latent.model is not None and window.latent.last_z is not None)
        slider_latency(window, 20)  # warm up
        for label in ("idle", "while diffusion runs (batch 16)"):
            if label != "idle":
                started = []
                on_frame = (lambda ev: started.append(ev) if ev.kind == "frame" else None)
                window.controller.event.connect(on_frame)
                window.controller.submit(busy_request)
                wait_for(lambda: bool(started))  # sampling, not loading
                window.controller.event.disconnect(on_frame)
            lat = slider_latency(window, args.moves)
            if label != "idle":
                window.controller.cancel()
                wait_for(lambda: not window.controller.busy)
            rows.append((vae, "slider -> painted", label, len(lat), f"{percentile(lat, 50):.1f}",
                         f"{percentile(lat, 99):.1f}", f"{max(lat):.1f}"))
        lat = slider_during_map(window, 20)
        rows.append((vae, "slider -> painted", "while the map redraws", len(lat), f"{percentile(lat, 50):.1f}",
                     f"{percentile(lat, 99):.1f}", f"{max(lat):.1f}"))
        lat = map_latency(window, 20)
        rows.append((vae, f"map redraw ({window.latent.map.tiles.value()}^2 tiles)", "idle", len(lat),
                     f"{percentile(lat, 50):.1f}", f"{percentile(lat, 99):.1f}", f"{max(lat):.1f}"))
    print(table(rows, ("checkpoint", "what", "while", "n", "p50 ms", "p99 ms", "max ms")))
    window.close()


if __name__ == "__main__":
    main()
