"""``genstudio grid``: one request varied along up to three axes, drawn cell by cell and written as
one labelled sheet whose PNG lists the axes and every cell's request; with --gallery every cell is
also a gallery item that reproduces exactly."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import StudioError
from ..core.grid.axes import FIELDS, MAX_CELLS
from ..core.request import DEFAULT_STEPS

_AXIS_HELP = ("FIELD=VALUES: values separated by commas (quote text holding a comma), numbers also as "
              "START:STOP:COUNT (COUNT evenly spaced values, ends included); fields: " + ", ".join(FIELDS)
              + "; prompt is search-and-replace: its first value is the text replaced")


def add_grid(subparsers) -> None:
    g = subparsers.add_parser("grid", help="an X/Y/Z grid: one request varied along up to three axes",
                              description=f"Draw a grid of at most {MAX_CELLS} cells, e.g. --x steps=5,10,20 "
                              "--y guidance=1:5:3, and write it as one labelled PNG.")
    g.add_argument("--checkpoint", help="checkpoint id or .safetensors path (default: the first installed "
                   "checkpoint of --family, else of diffusion)")
    g.add_argument("--family", help="only accept a checkpoint of this family")
    g.add_argument("--prompt", default="")
    g.add_argument("--negative-prompt", default="")
    g.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    g.add_argument("--sampler", help="the model's sampler (default: its first)")
    g.add_argument("--eta", type=float, default=0.0)
    g.add_argument("--guidance", type=float, default=3.0)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--truncation", type=float, default=1.0)
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-k", type=int, default=0)
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--init-image", help="start every cell from this image (families with image-to-image)")
    g.add_argument("--strength", type=float, default=0.6)
    g.add_argument("--x", required=True, help="the columns' axis: " + _AXIS_HELP)
    g.add_argument("--y", help="the rows' axis (same form)")
    g.add_argument("--z", help="one block of rows and columns per value (same form)")
    g.add_argument("--out", required=True, help="the sheet's .png file")
    g.add_argument("--gallery", action="store_true", help="also add every cell to the studio's gallery")
    g.add_argument("--device", default="auto")
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=_grid)


def _out_path(out: str) -> Path:
    path = Path(out)
    if "\0" in out or path.suffix.lower() != ".png":
        raise StudioError(f"--out {out[:80]} must name a .png file (the sheet carries the grid's settings).")
    if path.is_dir():
        raise StudioError(f"--out {out[:80]} is a folder; give the sheet's .png file name.")
    return path


def _grid(args: argparse.Namespace) -> int:
    from ..core.device import pick_device
    from ..core.grid import grid_cells, parse_axis
    from ..store.registry import find, load_model
    from .generate import _default_checkpoint, _load_text_encoder

    # What can be refused without a model is refused before one loads.
    out = _out_path(args.out)
    x, y, z = (parse_axis(a) if a is not None else None for a in (args.x, args.y, args.z))
    device = pick_device(args.device)
    model = load_model(args.checkpoint or _default_checkpoint(args.family, quiet=args.quiet), device,
                       family=args.family)
    init_hash, init = "", None
    if args.init_image:
        from ..core.images import load_for_model
        from ..store.inputs import store_input

        model.require("img2img")
        init, _ = load_for_model(args.init_image, model.image_format.width, model.image_format.channels)
        init_hash = store_input(init)
    default = model.default_request()
    base = default.with_(
        prompt=args.prompt, negative_prompt=args.negative_prompt, steps=args.steps,
        sampler=args.sampler or default.sampler, guidance=args.guidance, seed=args.seed, eta=args.eta,
        truncation=args.truncation, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        init_image=init_hash, strength=args.strength)
    # Not resolved here: that would drop what this family ignores and another on a checkpoint axis reads.
    cells = grid_cells(base, x, y, z)
    _load_text_encoder(model, base, quiet=args.quiet)
    models = {model.checkpoint.id: model}

    def load(checkpoint: str):
        # The base model is reused; another checkpoint replaces the one before it (one in memory).
        if checkpoint not in models:
            models.clear()
            if not args.quiet:
                print(f"loading {checkpoint}", file=sys.stderr)
            models[checkpoint] = load_model(checkpoint, device)
        return models[checkpoint]

    for checkpoint in dict.fromkeys(c.checkpoint for c in cells if c.checkpoint not in models):
        find(checkpoint)  # a misspelt checkpoint on an axis is refused before anything is drawn
    results: list = []
    try:
        _run(cells, load, init, results, gallery=args.gallery, quiet=args.quiet)
    except (StudioError, KeyboardInterrupt):
        if results:  # what was finished is kept: a sheet with the missing cells left grey
            _save(out, results, x, y, z)
            print(f"genstudio: the sheet {out} holds the {len(results)} of {len(cells)} cells finished",
                  file=sys.stderr)
        raise
    _save(out, results, x, y, z)
    print(out)
    return 0


def _save(out: Path, results: list, x, y, z) -> None:
    from ..core.grid import save_sheet

    try:
        save_sheet(out, results, x, y, z)
    except OSError as e:
        raise StudioError(f"Could not write the sheet {out}: {e.strerror or e}.") from None


def _run(cells, load, init, results: list, *, gallery: bool, quiet: bool) -> None:
    """Draw every cell, appending each to ``results`` (and adding it to the gallery, when asked) as
    it is finished."""
    from tqdm import tqdm

    from ..core.grid import run_grid

    store = None
    if gallery:
        from ..store.gallery import GalleryStore
        from ..store.paths import user_data_dir

        store = GalleryStore(user_data_dir() / "gallery")  # where the studio keeps it
    bar = tqdm(total=len(cells), unit="cell", leave=False, disable=quiet, file=sys.stderr)
    try:
        for event in run_grid(cells, load, init=init):
            if event.kind == "cell":
                results.append(event.result)
                if store is not None:
                    store.add(event.result.image, event.result.request, 0)
                bar.update(1)
    finally:
        bar.close()
        if store is not None:
            store.close()
    if store is not None and not quiet:
        print(f"added {len(results)} images to the gallery", file=sys.stderr)
