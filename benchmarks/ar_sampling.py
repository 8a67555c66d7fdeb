"""Seconds per 28x28 image of the autoregressive models: the cached samplers (PixelCNN: every layer's
earlier outputs kept, one new column per layer per pixel; transformer: a key/value cache) against the
naive loop that re-runs the whole network for every position, with the same seed (the images must
be identical). ``--write-card`` stores the figures on each model card."""
from __future__ import annotations

import time

from _common import parser, table

SHIPPED = ("pixelcnn-fmnist", "ar-transformer-fmnist", "pixelcnn-fmnist-grey", "ar-transformer-fmnist-grey")


def seconds(model, req, repeats: int) -> tuple[float, object]:
    best, images = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        images = model.generate(req)
        best = min(best, time.perf_counter() - t0)
    return best, images


def main() -> None:
    p = parser(__doc__)
    p.set_defaults(checkpoint=None)
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs (the naive loop runs once)")
    p.add_argument("--write-card", action="store_true")
    args = p.parse_args()
    import numpy as np
    import torch

    from studio.core.device import describe, pick_device
    from studio.core.evaluation.quality import write_metrics_to_card
    from studio.store.registry import load_model

    device = pick_device(args.device)
    rows = []
    for name in [args.checkpoint] if args.checkpoint else SHIPPED:
        model = load_model(name, device, family="autoregressive")
        req = model.default_request().with_(prompt="a sneaker", seed=1)
        model.generate(req)  # warm-up: the text encoder and first-call allocations
        cached, img_cached = seconds(model, req, args.repeats)
        batch16, _ = seconds(model, req.with_(batch_size=16), max(1, args.repeats - 1))
        naive, img_naive = seconds(model, req.with_(sampler="naive"), 1)
        same = bool(np.array_equal(img_cached, img_naive))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        rows.append((name, model.arch, f"{cached:.3f}", f"{batch16 / 16:.3f}", f"{naive:.2f}",
                     f"{naive / cached:.0f}x", "yes" if same else "NO"))
        if args.write_card:
            write_metrics_to_card(model.checkpoint.path, {
                "cached_seconds_per_image": round(cached, 4), "cached_seconds_per_image_batch16": round(batch16 / 16, 4),
                "naive_seconds_per_image": round(naive, 3), "speedup": round(naive / cached, 1), "batch": 1,
                "identical_images": same, "device": describe(device), "torch": torch.__version__,
                "script": "benchmarks/ar_sampling.py"}, key="sampling_speed")
    print(f"device: {describe(device)}; seconds per image, best of {args.repeats} (naive: one run)")
    print(table(rows, ("checkpoint", "arch", "cached s/img", "cached s/img (batch 16)", "naive s/img", "speed-up",
                       "same image")))


if __name__ == "__main__":
    main()
