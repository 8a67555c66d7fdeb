"""The pipelines the user added (Stable Diffusion folders and single files they already have, left where
they are): a small JSON list in the data folder, ``pipelines.json``, of ``{"id", "path"}`` entries, and
the sha256 of their files cached by path, modification time and size (``pipeline-hashes.json``), so a
multi-gigabyte model is hashed once. The registry lists them as checkpoints of the "pipeline" family."""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..core.atomic import atomic_write_text
from ..core.errors import CheckpointError, StudioError
from ..core.families.pipeline.sources import (
    PipelineSource,
    clean_id,
    default_id,
    describe,
    is_pipeline_path,
    sha256_of,
)
from .paths import user_data_dir

LIST_FILE = "pipelines.json"
HASHES_FILE = "pipeline-hashes.json"
_lock = threading.Lock()  # the GUI adds while a worker may be hashing


@dataclass(frozen=True)
class AddedPipeline:
    id: str
    path: Path


def list_path() -> Path:
    return user_data_dir() / LIST_FILE


def added() -> list[AddedPipeline]:
    """The added pipelines, in the order they were added (a damaged list reads as empty, with nothing lost:
    it is only rewritten by the next add or remove)."""
    try:
        entries = json.loads(list_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("path"), str):
            out.append(AddedPipeline(e["id"], Path(e["path"])))
    return out


def _write(entries: list[AddedPipeline]) -> None:
    atomic_write_text(list_path(), json.dumps([{"id": e.id, "path": str(e.path)} for e in entries], indent=1))


def add_pipeline(path: str | Path, model_id: str | None = None, taken: set[str] | None = None
                 ) -> tuple[AddedPipeline, PipelineSource]:
    """Add the diffusers folder or single .safetensors file at ``path`` (checked first: a missing
    component is refused with its name). Its id is ``model_id`` or its name, made unique against the
    ids in ``taken`` (the registry passes every listed id). Adding the same path again returns its entry."""
    path = Path(path).expanduser().resolve()
    if not is_pipeline_path(path):
        raise StudioError(f"{path} is neither a folder nor a .safetensors file: add a diffusers pipeline folder or "
                          "a single Stable Diffusion .safetensors file.")
    source = describe(path)
    with _lock:
        entries = added()
        for e in entries:
            if e.path == path:
                return e, source
        ids = {e.id for e in entries} | (taken or set())
        base = clean_id(model_id) if model_id else default_id(path)
        new_id, k = base, 2
        while new_id in ids:
            new_id, k = f"{base}-{k}", k + 1
        entry = AddedPipeline(new_id, path)
        _write(entries + [entry])
    return entry, source


def remove_pipeline(model_id: str) -> AddedPipeline:
    """Forget an added pipeline (its files stay where they are)."""
    with _lock:
        entries = added()
        keep = [e for e in entries if e.id != model_id]
        if len(keep) == len(entries):
            known = ", ".join(e.id for e in entries) or "none"
            raise CheckpointError(f"No added pipeline is named {model_id!r}; added: {known}.")
        _write(keep)
    return next(e for e in entries if e.id == model_id)


def file_sha256(path: Path) -> str:
    """The sha256 of one file, cached by its path, modification time and size."""
    path = Path(path).resolve()
    st = path.stat()
    key, stamp = str(path), [st.st_mtime_ns, st.st_size]
    cache_file = user_data_dir() / HASHES_FILE
    with _lock:
        cache = _read_cache(cache_file)
        hit = cache.get(key)
        if isinstance(hit, dict) and hit.get("stamp") == stamp and isinstance(hit.get("sha256"), str):
            return hit["sha256"]
    digest = sha256_of(path)  # outside the lock: seconds for a large file
    with _lock:
        cache = _read_cache(cache_file)
        cache[key] = {"stamp": stamp, "sha256": digest}
        cache = {k: v for k, v in cache.items() if os.path.exists(k)}  # forget files that are gone
        atomic_write_text(cache_file, json.dumps(cache, indent=1))
    return digest


def _read_cache(path: Path) -> dict:
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}
