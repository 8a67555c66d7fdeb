"""``genstudio compare``: the seed's comparison table for any list of checkpoints, headless.

Torch is imported only inside the handler, so ``genstudio --help`` stays fast."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_compare(subparsers) -> None:
    c = subparsers.add_parser("compare", help="measure checkpoints side by side: quality, speed, training stability, "
                              "control, facial manipulation, novelty and resources")
    c.add_argument("--checkpoints", nargs="+", metavar="ID_OR_PATH",
                   help="registered ids or .safetensors paths (default: the best shipped checkpoint of each family)")
    c.add_argument("--json", action="store_true", help="print the table as JSON")
    c.add_argument("--markdown", action="store_true", help="print the table as Markdown (the default without --json)")
    c.add_argument("--csv", metavar="PATH", help="also write the table as CSV, one line per cell")
    c.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    c.add_argument("--novelty", type=int, default=64, metavar="N",
                   help="samples for the nearest-training-image check (0: skip; default %(default)s)")
    c.add_argument("--seed", type=int, default=0, help="seed of every model's default request")
    c.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    c.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    c.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_compare)


def _fd(info) -> float:
    """The Fashion-MNIST classifier FD on a card (comparable within a family), else infinity."""
    q = (info.card.get("metrics") or {}).get("quality") if isinstance(info.card, dict) else None
    fd = q.get("fid_classifier") if isinstance(q, dict) else None
    return float(fd) if isinstance(fd, (int, float)) and not isinstance(fd, bool) else float("inf")


def default_checkpoints(infos) -> list[str]:
    """One checkpoint per family, in the registry's order of families: the one whose card says it is
    the family's best ("best": true), else the lowest measured classifier FD, else the first by id."""
    by_family: dict[str, list] = {}
    for info in infos:
        by_family.setdefault(info.family, []).append(info)
    return [min(group, key=lambda i: (i.card.get("best") is not True, _fd(i), i.id)).id
            for group in by_family.values()]


def _compare(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from ..core.compare import measure_table
    from ..core.device import pick_device
    from ..core.errors import StudioError
    from ..store.registry import load_model, scan

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.novelty < 0:
        raise StudioError(f"--novelty takes 0 or more samples (got {args.novelty}).")
    ids = args.checkpoints or default_checkpoints(scan()[0])
    if not ids:
        raise StudioError("No checkpoints are registered; name some with --checkpoints.")
    device = pick_device(args.device)
    models = [load_model(i, device) for i in ids]
    bar = tqdm(unit="part", dynamic_ncols=True, disable=args.quiet, leave=False, file=sys.stderr)

    def progress(stage: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_description(stage)
        bar.update(done - bar.n)

    table = measure_table(models, num_novelty=args.novelty, measure_speed=not args.no_speed, progress=progress,
                          seed=args.seed, data_dir=args.data_dir)
    bar.close()
    if args.json:
        print(table.to_json())
    if args.markdown or not args.json:
        print(table.to_markdown(), end="")
    if args.csv:
        Path(args.csv).write_text(table.to_csv(), encoding="utf-8")
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0
