"""Checkpoint format: ``NAME.safetensors`` (weights; the architecture config in its metadata, so the
file alone rebuilds its model) plus ``NAME.json``, the human-readable model card. Never pickle."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .atomic import atomic_write
from .cards import FORMAT, card_path, check_family_config, header_json, read_card, write_card  # noqa: F401
from .errors import CheckpointError


@dataclass
class Checkpoint:
    path: Path  # the .safetensors file
    family: str
    config: dict
    tensors: dict[str, torch.Tensor]
    card: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # trainer state (step, ...)

    @property
    def id(self) -> str:
        return self.path.stem

    @cached_property
    def sha256(self) -> str:
        """Short content hash, stored with every image so a changed checkpoint is noticed."""
        return file_hash(self.path)

    def group(self, prefix: str) -> dict[str, torch.Tensor]:
        """Tensors stored under ``prefix.``, with the prefix stripped (e.g. 'ema', 'model')."""
        p = prefix + "."
        return {k[len(p):]: v for k, v in self.tensors.items() if k.startswith(p)}


def file_hash(path: Path, length: int = 12) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


def save(path: str | Path, *, family: str, config: dict, tensors: dict[str, torch.Tensor],
         extra: dict | None = None, card: dict | None = None) -> Path:
    """Write weights atomically; ``extra`` is small JSON state (e.g. trainer step) kept in metadata."""
    path = Path(path)
    meta = {"format": FORMAT, "family": family, "config": json.dumps(config),
            "extra": json.dumps(extra or {})}
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda p: save_file(tensors, str(p), metadata=meta))
    if card is not None:
        write_card(path, card)
    return path


def load(path: str | Path, family: str | None = None, device: str = "cpu") -> Checkpoint:
    """Read and validate a checkpoint; every failure is a CheckpointError with a plain message."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"Checkpoint {path.name} is corrupt or truncated and cannot be read ({e}).") from e
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is a safetensors file but not a Generative Studio checkpoint "
                              f"(format {meta.get('format')!r}, expected {FORMAT!r}).")
    if not meta.get("family"):
        raise CheckpointError(f"{path.name} does not say which model family it holds.")
    if family and meta["family"] != family:
        raise CheckpointError(f"{path.name} holds a {meta['family']} model, not a {family} model.")
    config = header_json(meta, "config", path.name)
    extra = header_json(meta, "extra", path.name, default="{}")
    check_family_config(meta["family"], config, path.name)  # before any model is built from it
    try:
        tensors = load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"Checkpoint {path.name} is corrupt or truncated and cannot be read ({e}).") from e
    return Checkpoint(path, meta["family"], config, tensors, read_card(path), extra)


def load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    """load_state_dict that reports an architecture mismatch as a CheckpointError."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0:3]
        raise CheckpointError(f"{name} does not match the architecture in its config: {' '.join(first)}") from e
