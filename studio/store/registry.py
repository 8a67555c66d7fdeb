"""The checkpoint registry: what the Model panel and ``genstudio models`` list.

A checkpoint is found by scanning the checkpoint folders for ``*.safetensors`` files whose header
says they are Generative Studio models; only headers and cards are read, so listing is instant.
The pipelines the user added (studio.store.pipelines: Stable Diffusion folders and files left where
they are) follow, as checkpoints of the "pipeline" family.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.cards import FORMAT, check_family_config, header_json, read_card, read_header_metadata
from ..core.config_bounds import kind_of
from ..core.errors import CheckpointError
from ..core.families.pipeline.sources import default_id, describe
from .paths import checkpoint_dirs
from .pipelines import add_pipeline as _add
from .pipelines import added, file_sha256
from .pipelines import remove_pipeline as _remove

PIPELINE = "pipeline"  # the family added pipelines are listed under

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
    # What its family's ``from_checkpoint`` takes besides the path (an added pipeline: its id, and the
    # cached file hash); empty for a studio checkpoint file.
    options: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def title(self) -> str:
        return self.card.get("title") or self.id


class BrokenCheckpoint(str):
    """What ``scan`` says about a file it could not list: the reason (a sentence, so it prints and joins
    as text), plus which file and, when its header says so, which family it was meant to be."""

    path: Path
    family: str

    def __new__(cls, reason: str, path: Path, family: str = "", id: str = "") -> BrokenCheckpoint:
        self = super().__new__(cls, reason)
        self.path, self.family, self._id = path, family, id
        return self

    @property
    def id(self) -> str:
        return self._id or self.path.stem


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
    if dirs is None and family in (None, PIPELINE):
        for entry in added():
            try:
                info = pipeline_info(entry.path, entry.id)
            except CheckpointError as e:
                problems.append(BrokenCheckpoint(str(e), entry.path, PIPELINE, entry.id))
                continue
            if info.id not in seen:
                seen.add(info.id)
                found.append(info)
    return found, problems


def pipeline_info(path: Path, model_id: str = "") -> CheckpointInfo:
    """What the Model panel lists about a pipeline on disk (a diffusers folder or a single SD file): its
    configs only, no weights. ``model_id``: the id it was added under (default: its name)."""
    source = describe(path)
    model_id = model_id or default_id(path)
    summary = source.summary()
    w, h = summary["width"], summary["height"]
    card = {"id": model_id, "title": model_id, "family": PIPELINE,
            "purpose": f"{summary['title']} at {path}: trained at {w}x{h}, predicts "
                       f"{summary['prediction']}. Your own model, read from disk where it is.",
            "data": {"dataset": "not recorded"}}
    return CheckpointInfo(model_id, PIPELINE, path, "", card, summary,
                          {"model_id": model_id, "file_sha256": file_sha256})


def add_pipeline(path: str | Path, model_id: str | None = None) -> CheckpointInfo:
    """Add a diffusers folder or a single Stable Diffusion .safetensors file to the registry (left where it
    is); what the Model panel's "Add model" and ``genstudio models add`` call. Refused, with the reason,
    when it is not a pipeline the studio can open."""
    infos, broken = scan()
    entry, _ = _add(path, model_id, taken={i.id for i in infos} | {b.id for b in broken})
    return pipeline_info(entry.path, entry.id)


def remove_pipeline(model_id: str) -> Path:
    """Forget an added pipeline; returns where it is (nothing on disk is touched)."""
    return _remove(model_id).path


def find(checkpoint: str, dirs: list[Path] | None = None) -> CheckpointInfo:
    """A checkpoint by id, or by path to a .safetensors file (a studio checkpoint, or a Stable Diffusion
    one) or to a diffusers pipeline folder."""
    p = Path(checkpoint)
    if p.suffix == ".safetensors" and p.is_file():
        if read_header_metadata(p).get("format") != FORMAT:
            return pipeline_info(p)
        return inspect(p)
    if p.is_dir() and (p / "model_index.json").is_file():
        return pipeline_info(p)
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
    from ..core.families.base import get_family  # torch: only once a model is wanted

    info = find(checkpoint)
    if family and info.family != family:
        raise CheckpointError(f"Checkpoint {info.id} is a {info.family} model, not {family}.")
    return get_family(info.family).from_checkpoint(info.path, device, **info.options, **options)
