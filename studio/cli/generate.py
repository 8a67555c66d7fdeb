"""``genstudio generate``: images from any family's checkpoint, through the Family interface only
(what a model can do is asked of it, never inferred from its family's name)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.catalog import CATALOG, families_that
from ..core.errors import StudioError

DEFAULT_CHECKPOINT = "diffusion-fmnist"


def _samplers_help() -> str:
    return "; ".join(f"{info.label}: {' or '.join(info.samplers)} (default {info.samplers[0]})"
                     for info in CATALOG.values() if info.samplers)


def add_generate(subparsers) -> None:
    g = subparsers.add_parser("generate", help="generate images from a prompt")
    g.add_argument("--prompt", default="", help="what to draw; empty samples unconditionally; "
                   "'a sneaker::0.7 | a sandal::0.3' blends prompts with those weights")
    g.add_argument("--negative-prompt", default="", help="what to steer away from")
    g.add_argument("--family", help="only accept a checkpoint of this family")
    g.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help="checkpoint id or .safetensors path")
    g.add_argument("--steps", type=int, default=50)
    g.add_argument("--sampler", help="the model's sampler; " + _samplers_help())
    g.add_argument("--eta", type=float, default=0.0, help="DDIM stochasticity (0 deterministic, 1 = DDPM)")
    g.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance scale")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--latent", help=f"families with a latent vector ({', '.join(families_that('decode'))}): decode "
                   "this vector instead of drawing one: numbers separated by spaces or commas, e.g. --latent=-0.5,1.25")
    g.add_argument("--truncation", type=float, default=1.0,
                   help="GAN: scale the seed's latent vector by this (0..1; lower is more typical, less varied)")
    g.add_argument("--temperature", type=float, default=1.0,
                   help="autoregressive: divide each position's logits by this (below 1: likelier values; 0: greedy)")
    g.add_argument("--top-k", type=int, default=0, help="autoregressive: draw among the k likeliest values (0: all)")
    g.add_argument("--top-p", type=float, default=1.0,
                   help="autoregressive: draw among the likeliest values holding this much probability (nucleus)")
    g.add_argument("--init-image", help=f"start from this image ({', '.join(families_that('img2img'))}): diffusion "
                   "noises it partway (SDEdit), autoregressive keeps its top rows and completes the rest")
    g.add_argument("--strength", type=float, default=0.6,
                   help="with --init-image: how far to noise it (0 keeps it, 1 ignores it)")
    g.add_argument("--num", type=int, default=1, help="how many images")
    g.add_argument("--grid", action="store_true", help="write one grid image instead of N files")
    g.add_argument("--out", required=True, help="a .png file, or a folder with --num N")
    g.add_argument("--device", default="auto")
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=_generate)


def _parse_latent(text: str | None) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        return tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise StudioError("--latent takes numbers separated by spaces or commas.") from None


def _generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..core.device import pick_device
    from ..store.pngmeta import save_png
    from ..store.registry import load_model

    # Everything that can be refused without the model is refused before it loads.
    out = Path(args.out)
    single = args.num == 1 and out.suffix.lower() == ".png"
    if args.num < 1:
        raise StudioError("--num must be at least 1.")
    if not args.grid and not single and out.suffix.lower() == ".png":
        raise StudioError("--num N writes N files: give --out a folder (or add --grid for one image).")
    latent = _parse_latent(args.latent)
    if latent and args.num != 1:
        raise StudioError("--latent makes exactly one image; leave out --num.")

    model = load_model(args.checkpoint, pick_device(args.device), family=args.family)
    if latent:
        model.require("decode")
        if len(latent) != model.latent_dim:
            raise StudioError(f"--latent needs {model.latent_dim} values for {model.checkpoint.id} (got {len(latent)}).")
    init_hash, init = "", None
    if args.init_image:
        from ..core.images import load_for_model
        from ..store.inputs import store_input

        model.require("img2img")
        fmt = model.image_format
        init, note = load_for_model(args.init_image, fmt.width, fmt.channels)
        init_hash = store_input(init)
        if not args.quiet:
            print(f"input image: {note}", file=sys.stderr)
    default = model.default_request()
    request = default.with_(
        prompt=args.prompt, negative_prompt=args.negative_prompt, steps=args.steps,
        sampler=args.sampler or default.sampler, guidance=args.guidance, seed=args.seed, eta=args.eta, latent=latent,
        truncation=args.truncation, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        init_image=init_hash, strength=args.strength)
    request = model.resolve(request)  # refused here, with the family's message, before anything is drawn

    bar = tqdm(total=args.num, unit="img", leave=False, disable=args.quiet)
    grid = []
    if not (args.grid or single):
        out.mkdir(parents=True, exist_ok=True)
    # Each image is written as its batch is made, so a long run interrupted keeps what it has drawn.
    for req, images in model.batches(request, args.num, init=init):
        bar.update(len(images))
        if args.grid:
            grid.append(images)
            continue
        for i, image in enumerate(images):
            path = save_png(out if single else out / f"{req.seed}-{i:02d}.png", image, req, i)
            tqdm.write(str(path), file=sys.stdout)
    bar.close()
    if args.grid:
        import numpy as np

        from ..core.images import save_grid

        print(save_grid(np.concatenate(grid), out))
    return 0
