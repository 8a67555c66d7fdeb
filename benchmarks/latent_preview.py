"""What the live preview costs a latent diffusion model: a whole generation (the default sampler and
steps, batch 16, guidance 3) with every step's predicted clean latent decoded by the autoencoder, with
it mapped by the cheap linear latent-to-pixel map instead, and with no per-step preview at all (only
the final image decoded; the cost floor). Runs interleaved; the overhead is against that floor.

    python benchmarks/latent_preview.py --checkpoint diffusion-fmnist-latent --rounds 5
"""
from __future__ import annotations

import statistics

from _common import interleaved, parser, table, time_generation


def main() -> None:
    p = parser(__doc__)
    p.set_defaults(checkpoint="diffusion-fmnist-latent")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    import torch

    from studio.core.device import describe
    from studio.core.families.diffusion import family as diffusion_family
    from studio.core.prompt.encoder import shared_encoder
    from studio.store.registry import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint, "cpu")
    if model.latent_space is None:
        raise SystemExit(f"{args.checkpoint} is not a latent diffusion model")
    req = model.default_request().with_(prompt="a sneaker", batch_size=args.batch)
    shared_encoder().encode(["a sneaker"])

    def run(mode: str) -> float:
        model.latent_preview = "linear" if mode == "none" else mode
        decode = model.latent_space.decode
        if mode != "none":
            return time_generation(model, req)
        # only the final frame decodes: the per-step previews are left as latents
        return time_generation(model, req, {"_pixels": lambda x, final=False, cheap=False: (
            diffusion_family.from_signed(decode(x)) if final else None)})

    modes = ("none", "linear", "decode")
    times = interleaved({m: lambda m=m: run(m) for m in modes}, args.rounds)
    floor = statistics.median(times["none"])
    rows = [(m, f"{statistics.median(times[m]):.2f}", f"{(statistics.median(times[m]) / floor - 1) * 100:+.1f}%")
            for m in modes]
    print(f"{args.checkpoint}: {req.sampler} {req.steps} steps, batch {args.batch}, guidance {req.guidance}; "
          f"device {describe('cpu')}; median of {args.rounds} interleaved rounds")
    print(table(rows, ("per-step preview", "seconds per generation", "overhead")))


if __name__ == "__main__":
    main()
