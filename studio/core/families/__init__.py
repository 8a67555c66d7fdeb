"""Generator families: one folder each (its models, its Family, its training tasks and recipes, its
evaluations), found through its CATALOG entry. No family imports another; what two share lives in
the core beside them (latent_space, binary, pixels).

Importing this package loads no torch (a family's torch-free ``recipes`` lives under it): the
interface comes from ``base`` on first use."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import FAMILIES, EvalSetup, Family, ImageFormat, get_family, register

_FROM_BASE = ("FAMILIES", "EvalSetup", "Family", "ImageFormat", "get_family", "register")


def __getattr__(name: str):
    if name in _FROM_BASE:
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_family(path: str | Path, device: str = "cpu", family: str | None = None, **options) -> "Family":
    """Load a checkpoint file into its family's sampler (the header says which family)."""
    from ..checkpoint import load
    from .base import get_family

    ck = load(path, family=family, device="cpu")
    return get_family(ck.family)(ck, device, **options)


__all__ = ["FAMILIES", "EvalSetup", "Family", "ImageFormat", "get_family", "load_family", "register"]
