"""Generator families. Each registers itself in ``base.FAMILIES``; later families join the same way."""
from .base import FAMILIES, Family, get_family  # noqa: F401
from . import diffusion  # noqa: F401  (registers)
