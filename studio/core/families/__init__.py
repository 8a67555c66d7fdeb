"""Generator families. Each registers itself in ``base.FAMILIES``; later families join the same way."""
from __future__ import annotations

from .autoregressive import family as autoregressive
from .base import FAMILIES, Family, get_family
from .diffusion import family as diffusion
from .gan import family as gan
from .vae import family as vae  # noqa: F401  (each module registers its family)


def load_model(checkpoint: str, device: str = "cpu", family: str | None = None) -> Family:
    """Load a registered checkpoint (by id or path) into its family's sampler."""
    from ...store.registry import find
    from ..errors import CheckpointError

    info = find(checkpoint)
    if family and info.family != family:
        raise CheckpointError(f"Checkpoint {info.id} is a {info.family} model, not {family}.")
    return get_family(info.family).from_checkpoint(info.path, device)


__all__ = ["FAMILIES", "Family", "get_family", "load_model"]
