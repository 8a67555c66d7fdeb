"""The checkpoint registry: what the Model panel and ``genstudio models`` list.

A checkpoint is found by scanning the checkpoint folders for ``*.safetensors`` files whose header
says they are Generative Studio models; only headers and cards are read, so listing is instant.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.cards import FORMAT, read_card, read_header_metadata
from ..core.errors import CheckpointError
from .paths import checkpoint_dirs

if TYPE_CHECKING:
    from ..core.families import Family


@dataclass(frozen=True)
class CheckpointInfo:
    id: str
    family: str
    path: Path
    dataset: str = ""
    card: dict = field(default_factory=dict, compare=False, hash=False)
    config: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def title(self) -> str:
        return self.card.get("title") or self.id


def inspect(path: Path) -> CheckpointInfo:
    meta = read_header_metadata(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a Generative Studio checkpoint.")
    try:
        config = json.loads(meta.get("config", "{}"))
    except json.JSONDecodeError:
        config = {}
    card = read_card(path)
    return CheckpointInfo(path.stem, meta.get("family", "?"), path, card.get("data", {}).get("dataset")
                          or config.get("dataset", ""), card, config)


def scan(dirs: list[Path] | None = None, family: str | None = None) -> tuple[list[CheckpointInfo], list[str]]:
    """All checkpoints in ``dirs`` (default: shipped, then the user's), and a message per bad file."""
    found: list[CheckpointInfo] = []
    problems: list[str] = []
    seen: set[str] = set()
    for d in dirs if dirs is not None else checkpoint_dirs():
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.safetensors")):
            if path.name.endswith(".state.safetensors"):
                continue  # resumable training state, not a model to sample from
            try:
                info = inspect(path)
            except CheckpointError as e:
                problems.append(str(e))
                continue
            if info.family == "classifier" or info.id in seen:
                continue
            if family and info.family != family:
                continue
            seen.add(info.id)
            found.append(info)
    return found, problems


def find(checkpoint: str, dirs: list[Path] | None = None) -> CheckpointInfo:
    """A checkpoint by id, or by path to a .safetensors file."""
    p = Path(checkpoint)
    if p.suffix == ".safetensors" and p.exists():
        return inspect(p)
    infos, _ = scan(dirs)
    for info in infos:
        if info.id == checkpoint:
            return info
    known = ", ".join(i.id for i in infos) or "none"
    raise CheckpointError(f"No checkpoint named {checkpoint!r}; registered: {known}.")


def load_model(checkpoint: str, device: str = "cpu", family: str | None = None, **options) -> Family:
    """Load a registered checkpoint (by id or path) into its family's sampler."""
    from ..core.families import load_family  # torch: only once a model is wanted

    info = find(checkpoint)
    if family and info.family != family:
        raise CheckpointError(f"Checkpoint {info.id} is a {info.family} model, not {family}.")
    return load_family(info.path, device, **options)
