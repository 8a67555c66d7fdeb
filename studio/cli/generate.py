"""``genstudio generate``: images from any family's checkpoint, through the Family interface only
(what a model can do is asked of it, never inferred from its family's name)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.catalog import CATALOG, families_that
from ..core.errors import StudioError
from ..core.request import DEFAULT_STEPS
from .outputs import MAX_SCALE

DEFAULT_FAMILY = "diffusion"  # without --family or --checkpoint: its first checkpoint, diffusion-fmnist


def _samplers_help() -> str:
    return "; ".join(f"{info.label}: {' or '.join(info.samplers)} (default {info.samplers[0]})"
                     for info in CATALOG.values() if info.samplers)


def add_generate(subparsers) -> None:
    g = subparsers.add_parser("generate", help="generate images from a prompt")
    g.add_argument("--prompt", default="", help="what to draw; empty samples unconditionally; "
                   "'a sneaker::0.7 | a sandal::0.3' blends prompts with those weights")
    g.add_argument("--negative-prompt", default="", help="what to steer away from")
    g.add_argument("--family", help="only accept a checkpoint of this family; without --checkpoint, use its "
                   "first installed checkpoint (the shipped one, as the studio does)")
    g.add_argument("--checkpoint", help=f"checkpoint id or .safetensors path (default: the first installed "
                   f"checkpoint of --family, else of {DEFAULT_FAMILY})")
    g.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    g.add_argument("--sampler", help="the model's sampler; " + _samplers_help())
    g.add_argument("--eta", type=float, default=0.0, help="DDIM stochasticity (0 deterministic, 1 = DDPM)")
    g.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the model's, 3 for the "
                                                   "studio's models, 7 for Stable Diffusion)")
    g.add_argument("--width", type=int, help="models that draw at any size (Stable Diffusion): image width in pixels "
                                             "(default: the model's own)")
    g.add_argument("--height", type=int, help="with --width: image height (default: the model's own)")
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
    g.add_argument("--grid", action="store_true", help="also write one grid of all the images at the end: "
                   "--out grid.png puts the images in the folder grid/ beside it, --out FOLDER adds FOLDER/grid.png")
    g.add_argument("--out", required=True, help="a .png file, or a folder with --num N (each image is written "
                   "as soon as it is made)")
    g.add_argument("--scale", type=int, default=1, help=f"enlarge the saved files N times (1..{MAX_SCALE}), "
                   "each pixel an NxN block; the settings in a PNG reproduce the model's own output, so compare "
                   "a reproduction scaled the same way (or every Nth pixel of the file)")
    g.add_argument("--video", choices=["gif", "mp4"], help=f"models that make clips ({', '.join(families_that('video'))})"
                   ": also write each clip as a GIF or MP4 beside its PNG filmstrip, carrying the same settings")
    g.add_argument("--fps", type=float, default=8.0, help="with --video: frames per second")
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
    from ..core.device import pick_device
    from ..core.request import MAX_SEED
    from ..store.registry import load_model
    from .outputs import plan_output

    # Everything that can be refused without the model is refused before it loads.
    if args.num < 1:
        raise StudioError("--num must be at least 1.")
    if not 1 <= args.scale <= MAX_SCALE:
        raise StudioError(f"--scale must be between 1 and {MAX_SCALE} (got {args.scale}).")
    if 0 <= args.seed <= MAX_SEED < args.seed + args.num - 1:
        raise StudioError(f"--seed {args.seed} with --num {args.num} runs past the largest seed, {MAX_SEED}.")
    if args.video and not 0 < args.fps <= 60:
        raise StudioError(f"--fps must be above 0 and at most 60 (got {args.fps}).")
    latent = _parse_latent(args.latent)
    if latent and args.num != 1:
        raise StudioError("--latent makes exactly one image; leave out --num.")
    plan = plan_output(args.out, args.num, args.grid)
    from ..store.paths import clean_stale_tmp

    clean_stale_tmp(*plan.folders())  # half-written files of an earlier run that was killed

    checkpoint = args.checkpoint or _default_checkpoint(args.family, quiet=args.quiet)
    model = load_model(checkpoint, pick_device(args.device), family=args.family)
    if args.video:
        model.require("video")
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
        w, h = fmt.frame_width, fmt.height  # a clip's input is its first frame
        if "size" in model.controls:  # a model that draws at any size: the size asked for
            w, h = args.width or w, args.height or h
        init, note = load_for_model(args.init_image, w, fmt.channels, height=h, dark_background=fmt.dark_background)
        init_hash = store_input(init)
        if not args.quiet:
            print(f"input image: {note}", file=sys.stderr)
    default = model.default_request()
    if (args.width or args.height) and "size" not in model.controls:
        raise StudioError(f"{model.checkpoint.id} draws {default.width}x{default.height} images only; --width and "
                          "--height are for models that draw at any size.")
    request = default.with_(
        prompt=args.prompt, negative_prompt=args.negative_prompt, steps=args.steps,
        sampler=args.sampler or default.sampler, seed=args.seed, eta=args.eta, latent=latent,
        guidance=default.guidance if args.guidance is None else args.guidance,
        width=args.width or default.width, height=args.height or default.height,
        truncation=args.truncation, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        init_image=init_hash, strength=args.strength)
    request = model.resolve(request)  # refused here, with the family's message, before anything is drawn
    _load_text_encoder(model, request, quiet=args.quiet)
    video = (args.video, args.fps) if args.video else None
    _write_images(model, request, args.num, init, plan, scale=args.scale, quiet=args.quiet, video=video)
    return 0


def _default_checkpoint(family: str | None, *, quiet: bool) -> str:
    """The checkpoint the studio would pick for ``family``: the first one listed (shipped ones first)."""
    from ..store.registry import scan

    family = family or DEFAULT_FAMILY
    if family not in CATALOG:
        raise StudioError(f"Unknown model family {family!r}; known: {', '.join(CATALOG)}.")
    infos, _ = scan(family=family)
    if not infos:
        everything, _ = scan()
        installed = ", ".join(f"{i.id} ({i.family})" for i in everything) or "none"
        raise StudioError(f"No {family} checkpoint is installed (installed: {installed}); train one with "
                          f"'genstudio train' or give --checkpoint.")
    if not quiet:
        print(f"checkpoint: {infos[0].id} (the first {family} checkpoint installed)", file=sys.stderr)
    return infos[0].id


def _load_text_encoder(model, request, *, quiet: bool) -> None:
    """Load the sentence encoder now, if this request reads a prompt, so its loading (seconds) is
    one line before the progress bar instead of bars of its own inside it."""
    encoder = model.encoder
    if encoder is None or not (request.prompt.strip() or request.negative_prompt.strip()):
        return
    encoder.load()
    if not quiet:
        print("loaded text encoder", file=sys.stderr)


def _write_images(model, request, num: int, init, plan, *, scale: int, quiet: bool,
                  video: tuple[str, float] | None = None) -> None:
    """Draw ``num`` images in batches and write each one (atomically) as soon as its batch is made,
    so a run that is stopped keeps every image it finished; the grid, if asked, comes last.
    ``video`` ("gif" or "mp4", fps): each clip also as a video file beside its PNG."""
    import numpy as np
    from tqdm import tqdm

    from ..core.atomic import atomic_write
    from ..core.images import grid, to_pil
    from ..core.request import MAX_BATCH
    from ..store.pngmeta import save_png
    from .outputs import make_folder, upscale

    for folder in plan.folders():
        make_folder(folder)
    n_batches = -(-num // MAX_BATCH)
    bar = None
    made: list[np.ndarray] = []
    written = 0
    try:
        # The same seeds as Family.batches: image j of the run is image 0 of seed + j.
        for start in range(0, num, MAX_BATCH):
            req = request.with_(seed=request.seed + start, batch_size=min(MAX_BATCH, num - start))
            last, frame = 0, None
            for frame in model.sample(req, init=init):
                if bar is None:  # the first frame says how many steps a batch takes
                    bar = tqdm(total=frame.total * n_batches, unit=frame.unit, leave=False, disable=quiet)
                bar.update(frame.step - last)
                last = frame.step
            if frame is None:
                raise StudioError(f"{model.checkpoint.id} drew nothing for seed {req.seed}.")
            images = frame.preview
            for i, image in enumerate(images):
                path = plan.image_path(req.seed, i)
                try:
                    save_png(path, upscale(image, scale), req, i)
                except OSError as e:
                    raise StudioError(f"Could not write {path}: {e.strerror or e} ({written} images were "
                                      "written before it).") from None
                written += 1
                tqdm.write(str(path), file=sys.stdout)
                if video is not None:
                    tqdm.write(str(_write_clip(path, image, model.image_format.frames, req, i, *video)),
                               file=sys.stdout)
            if plan.grid is not None:
                made.append(images)
    finally:
        if bar is not None:
            bar.close()
    if plan.grid is not None:
        picture = to_pil(upscale(grid(np.concatenate(made)), scale))
        try:
            atomic_write(plan.grid, lambda p: picture.save(p, format="PNG"))
        except OSError as e:
            raise StudioError(f"Could not write the grid {plan.grid}: {e.strerror or e}.") from None
        print(plan.grid)


def _write_clip(png: Path, strip, frames: int, request, index: int, kind: str, fps: float) -> Path:
    from ..core.clips import frames_of
    from ..store.video_files import write_video

    path = png.with_suffix(f".{kind}")
    try:
        return write_video(path, frames_of(strip, frames), fps=fps, request=request, batch_index=index)
    except OSError as e:
        raise StudioError(f"Could not write {path}: {e.strerror or e}.") from None
