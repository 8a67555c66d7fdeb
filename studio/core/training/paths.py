"""Where a run keeps its resumable state: torch-free, so the window can look for it cheaply."""
from __future__ import annotations

from pathlib import Path


def state_path(out: str | Path) -> Path:
    """The state beside a run's output ``NAME.safetensors``: ``NAME.state.safetensors``, which
    ``genstudio train --resume`` and the Training dock's Resume continue from."""
    out = Path(out)
    return out.with_name(out.stem + ".state.safetensors")
