"""The checkpoint registry: what the Model panel and ``genstudio models`` list.

A checkpoint is found by scanning the checkpoint folders for ``*.safetensors`` files whose header
says they are Generative Studio models; only headers and cards are read, so listing is instant.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.cards import FORMAT, check_family_config, header_json, read_card, read_header_metadata
from ..core.config_bounds import kind_of
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


class BrokenCheckpoint(str):
    """What ``scan`` says about a file it could not list: the reason (a sentence, so it prints and joins
    as text), plus which file and, when its header says so, which family it was meant to be."""

    path: Path
    family: str

    def __new__(cls, reason: str, path: Path, family: str = "") -> BrokenCheckpoint:
        self = super().__new__(cls, reason)
        self.path, self.family = path, family
        return self

    @property
    def id(self) -> str:
        return self.path.stem


def inspect(path: Path) -> CheckpointInfo:
    """What the Model panel lists about one file, from its header and card alone; every way the file
    can be malformed (header, config, card) is a CheckpointError saying what is wrong."""
    meta = read_header_metadata(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a Generative Studio checkpoint.")
    family = meta.get("family")
    if not family:
        raise CheckpointError(f"{path.name} does not say which model family it holds.")
    config = header_json(meta, "config", path.name)
    check_family_config(family, config, path.name)
    card = read_card(path)
    dataset = (card.get("data") or {}).get("dataset") or config.get("dataset") or ""
    if not isinstance(dataset, str):
        raise CheckpointError(f"{path.name} names its data set as {kind_of(dataset)}, not text.")
    return CheckpointInfo(path.stem, family, path, dataset, card, config)


def _family_of(path: Path) -> str:
    """The family a broken file's header names, if that much can be read ("" otherwise)."""
    try:
        return read_header_metadata(path).get("family", "")
    except CheckpointError:
        return ""


def scan(dirs: list[Path] | None = None, family: str | None = None
         ) -> tuple[list[CheckpointInfo], list[BrokenCheckpoint]]:
    """All checkpoints in ``dirs`` (default: shipped, then the user's), and the files that cannot be
    used, each with the reason (one bad file never hides the others)."""
    found: list[CheckpointInfo] = []
    problems: list[BrokenCheckpoint] = []
    seen: set[str] = set()
    for d in dirs if dirs is not None else checkpoint_dirs():
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.safetensors"), key=lambda p: p.stem):  # by id: "a" before "a-latent"
            if path.name.endswith(".state.safetensors"):
                continue  # resumable training state, not a model to sample from
            try:
                info = inspect(path)
            except CheckpointError as e:
                broken_family = _family_of(path)
                if not family or broken_family in (family, ""):
                    problems.append(BrokenCheckpoint(str(e), path, broken_family))
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
    infos, problems = scan(dirs)
    for info in infos:
        if info.id == checkpoint:
            return info
    for broken in problems:
        if broken.id == checkpoint:
            raise CheckpointError(f"Checkpoint {checkpoint} cannot be used: {broken}")
    known = ", ".join(i.id for i in infos) or "none"
    raise CheckpointError(f"No checkpoint named {checkpoint!r}; registered: {known}.")


def load_model(checkpoint: str, device: str = "cpu", family: str | None = None, **options) -> Family:
    """Load a registered checkpoint (by id or path) into its family's sampler."""
    from ..core.families import load_family  # torch: only once a model is wanted

    info = find(checkpoint)
    if family and info.family != family:
        raise CheckpointError(f"Checkpoint {info.id} is a {info.family} model, not {family}.")
    return load_family(info.path, device, **options)
