"""Video diffusion on this CPU: seconds per clip (all its frames) with DDIM and DPM++2M, batch 1 and 4,
guidance 3; and what the live preview costs: every step's filmstrip of predicted clean frames made
(what the studio shows) against only the final clip's (the cost floor), run interleaved, as
latent_preview.py measures the image models' preview, with the overhead against that floor.

    python benchmarks/video_speed.py --checkpoint resources/checkpoints/video-shapes.safetensors
"""
from __future__ import annotations

import statistics
import time

from _common import ROOT, interleaved, parser, table, time_generation

DEFAULT_CHECKPOINT = ROOT / "resources" / "checkpoints" / "video-shapes.safetensors"
SAMPLERS = ("ddim", "dpm++2m")
BATCHES = (1, 4)


def run(model, req, *, previews: bool, total: int) -> float:
    """Seconds for one whole generation; without ``previews`` only the final step's filmstrip is made."""
    if previews:
        return time_generation(model, req)
    strips, calls = model._strips, [0]

    def final_only(x):
        calls[0] += 1
        return strips(x) if calls[0] == total else None

    return time_generation(model, req, {"_strips": final_only})


def main() -> None:
    p = parser(__doc__)
    p.set_defaults(checkpoint=str(DEFAULT_CHECKPOINT), device="cpu")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs per cell")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the preview comparison")
    p.add_argument("--prompt", default="a red circle moves right")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    import torch

    from studio.core.device import describe, pick_device
    from studio.core.errors import StudioError
    from studio.store.registry import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    try:
        model = load_model(args.checkpoint, device)
    except StudioError as e:
        raise SystemExit(f"{e}\nTrain the video model first: genstudio train video --out {DEFAULT_CHECKPOINT}")
    if not model.can("video"):
        raise SystemExit(f"{args.checkpoint} makes still images, not clips")
    base = model.default_request().with_(prompt=args.prompt, steps=args.steps, guidance=3.0, seed=1)
    frames = model.image_format.frames
    model.generate(base.with_(steps=2))  # warm-up: the text encoder and first-call allocations

    speed = []
    for sampler in SAMPLERS:
        for batch in BATCHES:
            req = model.resolve(base.with_(sampler=sampler, batch_size=batch))
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                model.generate(req)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
            speed.append((sampler, batch, args.steps, f"{best / batch:.3f}", f"{best:.3f}"))

    overhead = []
    for batch in BATCHES:
        req = model.resolve(base.with_(sampler="ddim", batch_size=batch))
        total = sum(1 for _ in model.frames(req.with_(steps=args.steps), None, want_noisy=False))
        times = interleaved({p: lambda p=p: run(model, req, previews=p, total=total) for p in (False, True)},
                            args.rounds)
        floor, shown = statistics.median(times[False]), statistics.median(times[True])
        overhead.append(("ddim", batch, args.steps, f"{floor:.3f}", f"{shown:.3f}",
                         f"{100 * (shown / floor - 1):+.1f}%"))

    print(f"{model.checkpoint.id}: {frames} frames of {model.image_format.frame_width}x{model.image_format.height}, "
          f"guidance 3; device {describe(device)}; best of {args.repeats}")
    print(table(speed, ("sampler", "batch", "steps", f"s per {frames}-frame clip", "s per run")))
    print(f"\nlive preview: every step's filmstrip against only the final one, median of {args.rounds} "
          "interleaved rounds")
    print(table(overhead, ("sampler", "batch", "steps", "final only s", "every step s", "overhead")))


if __name__ == "__main__":
    main()
