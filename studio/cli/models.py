"""``genstudio models``: the registered checkpoints, or one model card. Reads headers and cards only
(no torch)."""
from __future__ import annotations

import argparse
import json
import sys


def add_models(subparsers) -> None:
    m = subparsers.add_parser("models", help="list the registered checkpoints, or show one's model card")
    m.add_argument("--family", help="only this family's checkpoints")
    m.add_argument("--card", metavar="ID", help="print this checkpoint's model card (an id or a .safetensors path)")
    m.add_argument("--json", action="store_true", help="with --card: the card as JSON")
    m.set_defaults(func=_models)


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
    print(f"{'id':28} {'family':14} {'dataset':16} path")
    for info in infos:
        print(f"{info.id:28} {info.family:14} {info.dataset:16} {info.path}")
    for msg in problems:
        print(f"skipped: {msg}", file=sys.stderr)
    return 0
