"""The ``genstudio`` command line: the same engine as the studio, headless.

One module per command group (generate, train, eval, models), each adding its subcommands to the
parser; torch is imported only inside their handlers, so ``genstudio --help`` stays fast."""
from __future__ import annotations

import argparse
import sys

from ..core.errors import StudioError


def build_parser() -> argparse.ArgumentParser:
    from . import compare, doctor, generate, grid, models, train
    from . import eval as eval_cmds

    p = argparse.ArgumentParser(prog="genstudio", description="Generative Studio, headless.")
    sub = p.add_subparsers(dest="command", required=True)
    generate.add_generate(sub)
    models.add_models(sub)
    tr = train.add_train(sub)
    eval_cmds.add_train_classifier(tr)  # the classifier the eval commands judge with
    eval_cmds.add_eval(sub)
    compare.add_compare(sub)
    grid.add_grid(sub)
    doctor.add_doctor(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded on model cards as the command that reproduces them
    from ..store.paths import clean_user_tmp

    clean_user_tmp()  # what a crashed run (or window) left half-written
    try:
        return args.func(args)
    except StudioError as e:
        print(f"genstudio: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genstudio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
