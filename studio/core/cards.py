"""Checkpoint headers and model cards, readable without importing torch (the GUI lists models
at start-up before any model code is loaded)."""
from __future__ import annotations

import json
import struct
from pathlib import Path

from .atomic import atomic_write_text
from .errors import CheckpointError

FORMAT = "genstudio-1"


def card_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def read_card(path: Path) -> dict:
    cp = card_path(path)
    if not cp.is_file():
        return {}
    try:
        return json.loads(cp.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"The model card {cp.name} is not valid JSON: {e}") from e


def write_card(path: Path, card: dict) -> None:
    atomic_write_text(card_path(path), json.dumps(card, indent=2) + "\n")


def read_header_metadata(path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file: an 8-byte little-endian length, then JSON."""
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError("file shorter than its header")
            (n,) = struct.unpack("<Q", raw)
            if n > 100_000_000 or n > path.stat().st_size - 8:
                raise ValueError("header length beyond the end of the file")
            header = json.loads(f.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path.name} is not a readable safetensors file ({e}).") from e
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}
