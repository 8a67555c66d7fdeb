"""``genstudio models``: the registered checkpoints, or one model card; ``models add PATH`` and
``models remove ID`` register (or forget) a Stable Diffusion model the user already has, a diffusers
folder or a single .safetensors file, left where it is. Reads headers, configs and cards only (no
torch; ``add`` hashes the model's files once)."""
from __future__ import annotations

import argparse
import json
import shlex


def add_models(subparsers) -> None:
    m = subparsers.add_parser("models", help="list the registered checkpoints, or show one's model card")
    m.add_argument("--family", help="only this family's checkpoints")
    m.add_argument("--card", metavar="ID", help="print this checkpoint's model card (an id or a .safetensors path)")
    m.add_argument("--json", action="store_true", help="with --card: the card as JSON")
    m.set_defaults(func=_models)
    actions = m.add_subparsers(dest="action", metavar="{add,remove}")
    a = actions.add_parser("add", help="add a Stable Diffusion 1.x/2.x model you have: a diffusers folder or a "
                                       "single .safetensors file (nothing is copied or downloaded)")
    a.add_argument("path", help="the folder holding model_index.json, or the .safetensors file")
    a.add_argument("--id", help="the name to list it under (default: the folder's or file's name)")
    a.set_defaults(func=_add)
    r = actions.add_parser("remove", help="forget an added model (its files stay where they are)")
    r.add_argument("id")
    r.set_defaults(func=_remove)


def _add(args: argparse.Namespace) -> int:
    from ..store.registry import add_pipeline

    info = add_pipeline(args.path, args.id)
    c = info.config
    print(f"added {info.id}: {c['title']}, trained at {c['width']}x{c['height']}, predicts {c['prediction']}")
    print(f"  {info.path}")
    print("hashing its files (once; the hash goes with every image it makes)...", end=" ", flush=True)
    from ..core.families.pipeline.sources import content_hash, describe

    print(content_hash(describe(info.path), info.options["file_sha256"]))
    print(f"generate with: genstudio generate --checkpoint {shlex.quote(info.id)} --prompt '...' --out image.png")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from ..store.registry import remove_pipeline

    path = remove_pipeline(args.id)
    print(f"removed {args.id} (its files stay at {path})")
    return 0


def _models(args: argparse.Namespace) -> int:
    from ..store.registry import find, scan

    if args.card:
        from ..core.card_text import render_card

        info = find(args.card)
        if args.json:
            print(json.dumps(info.card, indent=2))
        else:
            print(render_card(info.card, title=info.title, family=info.family, dataset=info.dataset,
                              detail=True).to_text())
        return 0
    infos, problems = scan(family=args.family)
    print(_table(["id", "family", "dataset", "path"],
                 [[i.id, i.family, i.dataset, str(i.path)] for i in infos]))
    if problems:
        print(f"\nbroken ({len(problems)}, skipped):")
        print(_table(["id", "family", "reason"], [[b.id, b.family or "?", str(b)] for b in problems]))
    return 0


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Columns as wide as their longest entry (ids are the user's file names: any length); the last
    column is not padded."""
    rows = [header] + [[" ".join(c.split()) for c in r] for r in rows]  # one line per row, whatever the text
    widths = [max(len(r[k]) for r in rows) for k in range(len(header) - 1)]
    return "\n".join("  ".join([c.ljust(w) for c, w in zip(r, widths)] + [r[-1]]) for r in rows)
