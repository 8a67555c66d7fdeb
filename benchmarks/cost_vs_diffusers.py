"""Cost per image of the studio's diffusion models against the diffusers baseline the issue names:
a class-conditional `UNet2DModel` (1 channel, 32x32, block_out_channels 64/128/128, 2 layers per
block, attention at 8x8, class embeddings) sampled by DDIM. Both run DDIM 20 steps, batch 16, with
classifier-free guidance 3 (two model evaluations per step: the baseline's unconditional pass uses an
11th, null class), in one process, the runs interleaved so that the machine's load hits both alike.
The studio's side is the full generation path (DiffusionFamily.frames, previews included).

Needs diffusers (`pip install -e ".[bench]"`; a benchmark-only dependency, not the studio's).

    python benchmarks/cost_vs_diffusers.py --checkpoints diffusion-fmnist,diffusion-shapes --rounds 5
"""
from __future__ import annotations

import statistics
import time

from _common import parser, table


def baseline_unet():
    from diffusers import UNet2DModel

    return UNet2DModel(sample_size=32, in_channels=1, out_channels=1, block_out_channels=(64, 128, 128),
                       layers_per_block=2, down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), num_class_embeds=11).eval()


def run_baseline(unet, steps: int, batch: int, guidance: float, seed: int) -> float:
    import torch
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler(num_train_timesteps=1000)
    scheduler.set_timesteps(steps)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, 32, 32, generator=g)
    labels = torch.arange(batch) % 10
    null = torch.full((batch,), 10)
    t0 = time.perf_counter()
    with torch.no_grad():
        for t in scheduler.timesteps:
            out = unet(torch.cat([x, x]), t, class_labels=torch.cat([labels, null])).sample
            e_c, e_u = out.chunk(2)
            x = scheduler.step(e_u + guidance * (e_c - e_u), t, x).prev_sample
    return time.perf_counter() - t0


def run_studio(model, steps: int, batch: int, guidance: float, seed: int) -> float:
    from studio.core.request import GenerationRequest

    req = GenerationRequest(family="diffusion", checkpoint=model.checkpoint.id, prompt="a sneaker",
                            steps=steps, sampler="ddim", guidance=guidance, seed=seed, batch_size=batch)
    t0 = time.perf_counter()
    for _ in model.frames(req, None, want_noisy=False):
        pass
    return time.perf_counter() - t0


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--checkpoints", default="diffusion-fmnist", help="comma-separated ids or paths")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    import torch

    from studio.core.device import describe
    from studio.core.prompt.encoder import shared_encoder
    from studio.store.registry import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    unet = baseline_unet()
    models = [load_model(c.strip(), "cpu") for c in args.checkpoints.split(",") if c.strip()]
    shared_encoder().encode(["a sneaker"])  # loaded and cached before any timing
    times: dict[str, list[float]] = {"baseline": [], **{m.checkpoint.id: [] for m in models}}
    for r in range(args.rounds + 1):  # round 0 warms up and is not counted
        runs = [("baseline", lambda: run_baseline(unet, args.steps, args.batch, args.guidance, r))]
        runs += [(m.checkpoint.id, lambda m=m: run_studio(m, args.steps, args.batch, args.guidance, r)) for m in models]
        for name, fn in (runs if r % 2 else runs[::-1]):  # alternate the order too
            seconds = fn()
            if r:
                times[name].append(seconds)
    base = statistics.median(times["baseline"]) / args.batch
    n_base = sum(p.numel() for p in unet.parameters())
    rows = [("diffusers UNet2DModel (baseline)", f"{n_base / 1e6:.2f}M", f"{base * 1000:.1f}", "1.00")]
    for m in models:
        per = statistics.median(times[m.checkpoint.id]) / args.batch
        n = sum(p.numel() for p in m.model.parameters())
        rows.append((m.checkpoint.id, f"{n / 1e6:.2f}M", f"{per * 1000:.1f}", f"{per / base:.2f}"))
    print(f"device: {describe('cpu')}; DDIM {args.steps} steps, batch {args.batch}, guidance {args.guidance}; "
          f"median of {args.rounds} interleaved rounds")
    print(table(rows, ("model", "parameters", "ms per image", "cost vs baseline")))


if __name__ == "__main__":
    main()
