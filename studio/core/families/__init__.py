"""Generator families. Each registers itself in ``base.FAMILIES``; later families join the same way."""
from __future__ import annotations

from .base import FAMILIES, Family, get_family
from . import autoregressive, diffusion, gan, vae  # noqa: F401  (each module registers its family)


def load_model(checkpoint: str, device: str = "cpu", family: str | None = None) -> Family:
    """Load a registered checkpoint (by id or path) into its family's sampler."""
    from ..errors import CheckpointError
    from ..registry import find

    info = find(checkpoint)
    if family and info.family != family:
        raise CheckpointError(f"Checkpoint {info.id} is a {info.family} model, not {family}.")
    return get_family(info.family).from_checkpoint(info.path, device)


__all__ = ["FAMILIES", "Family", "get_family", "load_model"]
