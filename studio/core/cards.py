"""Checkpoint headers and model cards, readable without importing torch (the GUI lists models
at start-up before any model code is loaded).

Both are files a user may have edited, damaged or downloaded: everything read here is checked for
shape (a card is a JSON object with text where text belongs, a header's metadata is text to text, a
config is a JSON object within its family's bounds) and every malformation is a CheckpointError.
"""
from __future__ import annotations

import importlib
import json
import struct
from pathlib import Path

from .atomic import atomic_write_text
from .config_bounds import describe, kind_of
from .errors import CheckpointError

FORMAT = "genstudio-1"
MAX_CARD_BYTES = 1 << 20  # a card is a page of text; a bigger file is not one
MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
# Card fields the studio reads, by the JSON type they must have (absent or null is always allowed).
CARD_TEXT = ("id", "title", "family", "reproduce")
CARD_OBJECTS = ("data", "config", "training", "metrics")


def card_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def read_card(path: Path) -> dict:
    """The model card beside checkpoint ``path`` ({} if there is none), checked by ``check_card``."""
    cp = card_path(path)
    if not cp.is_file():
        return {}
    try:
        if cp.stat().st_size > MAX_CARD_BYTES:
            raise CheckpointError(f"The model card {cp.name} is larger than {MAX_CARD_BYTES // 1024} KB; "
                                  "it is not a model card.")
        card = json.loads(cp.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"The model card {cp.name} is not valid JSON: {e}") from e
    return check_card(card, cp.name)


def check_card(card: object, name: str) -> dict:
    """``card`` if it has the shape the studio reads (a JSON object; text and object fields of those
    types); a CheckpointError saying what is wrong otherwise. Unknown fields are kept as they are."""
    if not isinstance(card, dict):
        raise CheckpointError(f"The model card {name} must be a JSON object, not {kind_of(card)}.")
    for key in CARD_TEXT:
        v = card.get(key)
        if v is not None and not isinstance(v, str):
            raise CheckpointError(f"The model card {name} has {key} {describe(v)}; it must be text.")
    for key in CARD_OBJECTS:
        v = card.get(key)
        if v is not None and not isinstance(v, dict):
            raise CheckpointError(f"The model card {name} has {key} {describe(v)}; it must be a JSON object.")
    dataset = (card.get("data") or {}).get("dataset")
    if dataset is not None and not isinstance(dataset, str):
        raise CheckpointError(f"The model card {name} has data.dataset {describe(dataset)}; it must be text.")
    return card


def write_card(path: Path, card: dict) -> None:
    atomic_write_text(card_path(path), json.dumps(card, indent=2) + "\n")


def read_header(path: Path) -> dict:
    """The JSON header of a safetensors file (an 8-byte little-endian length, then JSON), without
    reading its tensors; checked against the file's size, so a copy cut short is refused here."""
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError("file shorter than its header")
            (n,) = struct.unpack("<Q", raw)
            if n > MAX_HEADER_BYTES or n > path.stat().st_size - 8:
                raise ValueError("header length beyond the end of the file")
            header = json.loads(f.read(n))
            size = path.stat().st_size
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path.name} is not a readable safetensors file ({e}).") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path.name} is not a readable safetensors file (its header is {kind_of(header)}).")
    end = _data_end(header)
    if end is not None and 8 + n + end != size:  # a copy cut short: listed as broken, not found at Generate
        raise CheckpointError(f"{path.name} is truncated or damaged: its header describes {8 + n + end:,} bytes, "
                              f"the file holds {size:,}.")
    return header


def read_header_metadata(path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file."""
    header = read_header(path)
    meta = header.get("__metadata__")
    if meta is None:
        return {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f"{path.name} is not a readable safetensors file (its metadata must map text "
                              "to text).")
    return meta


def _data_end(header: dict) -> int | None:
    """Where the last tensor's bytes end (offsets count from the end of the header); None when the
    header does not say (then safetensors itself judges the file when it is loaded)."""
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            return None
        end = max(end, offsets[1])
    return end


def header_json(meta: dict[str, str], key: str, name: str, default: str | None = None) -> dict:
    """A JSON object stored as text under ``key`` of a header's metadata (the config, the extra state)."""
    text = meta.get(key, default)
    if text is None:
        raise CheckpointError(f"{name} has no architecture {key} in its header.")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{name} has a damaged architecture {key} ({e}).") from e
    if not isinstance(value, dict):
        raise CheckpointError(f"{name} has a damaged architecture {key}: it is {kind_of(value)}, "
                              "not a JSON object.")
    return value


def check_family_config(family: str, config: dict, name: str) -> None:
    """Check ``config`` against its family's bounds (``<module>.config.check_config``, torch-free)
    before anything is built from it. A family without such a module (a test's toy) is not checked."""
    from .catalog import CATALOG

    info = CATALOG.get(family)
    if info is None or not info.module:
        return
    module = f"{info.module}.config"
    try:
        check = getattr(importlib.import_module(module), "check_config", None)
    except ModuleNotFoundError as e:
        if e.name is not None and module.startswith(e.name):
            return
        raise
    if check is None:
        return
    try:
        check(config)
    except CheckpointError as e:
        raise CheckpointError(f"{name}: {e}") from e
