"""``genstudio models``: the registered checkpoints, or one model card. Reads headers and cards only
(no torch)."""
from __future__ import annotations

import argparse
import json


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
