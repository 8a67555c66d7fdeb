"""A pipeline on disk, described without torch or diffusers: a diffusers folder (``model_index.json``
and one subfolder per component) or a single Stable Diffusion ``.safetensors`` file. Only JSON configs
and safetensors headers are read, so listing stays instant; every way a pipeline cannot be used is a
CheckpointError naming what is missing. ``files`` are exactly what loading reads (and what its hash
covers)."""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...cards import read_header as read_safetensors_header
from ...errors import CheckpointError
from .configs import recognise

# What each component of a folder is, for the messages.
COMPONENTS = {
    "unet": "the U-Net that denoises",
    "vae": "the VAE between latents and pixels",
    "text_encoder": "the CLIP text encoder",
    "tokenizer": "the tokenizer of the prompt",
    "scheduler": "the noise schedule",
}
WEIGHTS = {"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model", "text_encoder": "model"}
CONFIGS = {"unet": "config.json", "vae": "config.json", "text_encoder": "config.json",
           "scheduler": "scheduler_config.json"}
TOKENIZER_FILES = ("vocab.json", "merges.txt")
TOKENIZER_EXTRAS = ("tokenizer_config.json", "special_tokens_map.json")
# A single file's metadata may carry its components' diffusers configs as JSON under this key (a model
# of another size than SD 1.x/2.x; the tests' tiny ones). Without it, SD 1.x/2.x is recognised.
CONFIG_KEY = "studio.pipeline"
BETA_SCHEDULES = {"scaled_linear": "scaled_linear", "linear": "linear", "squaredcos_cap_v2": "cosine"}
PREDICTIONS = {"epsilon": "epsilon", "v_prediction": "v"}
# Where a CLIP tokenizer may already be on disk for a single file that has none beside it: the Hugging
# Face cache of the repositories SD 1.x and 2.x take theirs from (read from disk, never fetched).
TOKENIZER_REPOS = {"sd1": (("openai/clip-vit-large-patch14", ""), ("runwayml/stable-diffusion-v1-5", "tokenizer"),
                           ("stable-diffusion-v1-5/stable-diffusion-v1-5", "tokenizer")),
                   "sd2": (("stabilityai/stable-diffusion-2-1", "tokenizer"),
                           ("stabilityai/stable-diffusion-2-1-base", "tokenizer"))}
INSTALL = 'pip install "generative-studio[pipelines]"'


@dataclass(frozen=True)
class PipelineSource:
    """What loading a pipeline needs to know, read from its configs and headers."""

    path: Path
    kind: str  # "folder" (diffusers) or "file" (a single original-layout checkpoint)
    version: str  # "sd1", "sd2" (a recognised single file) or "" (the configs say)
    configs: dict[str, dict]  # unet, vae, text_encoder, scheduler: diffusers configs
    weights: dict[str, tuple[Path, ...]]  # each network's weight files (a single file: the file, for all)
    tokenizer: Path | None  # the folder holding vocab.json and merges.txt; None: none found
    files: tuple[Path, ...] = field(default=())  # everything loading reads, for the hash

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def vae_scale(self) -> int:
        """Pixels per latent cell: the VAE halves the size at every block but the last."""
        return 2 ** (len(self.configs["vae"]["block_out_channels"]) - 1)

    @property
    def size(self) -> tuple[int, int]:
        """The (width, height) it was trained at."""
        s = self.configs["unet"]["sample_size"]
        w, h = (s, s) if isinstance(s, int) else (s[1], s[0])
        return w * self.vae_scale, h * self.vae_scale

    @property
    def prediction(self) -> str:
        """"epsilon" or "v"."""
        return PREDICTIONS[self.configs["scheduler"].get("prediction_type", "epsilon")]

    @property
    def schedule(self) -> dict:
        """The studio's ScheduleConfig fields for the scheduler config's betas."""
        s = self.configs["scheduler"]
        return {"num_train_timesteps": int(s.get("num_train_timesteps", 1000)),
                "kind": BETA_SCHEDULES[s.get("beta_schedule", "linear")],
                "beta_start": float(s.get("beta_start", 0.0001)), "beta_end": float(s.get("beta_end", 0.02))}

    def summary(self) -> dict:
        """What the Model panel and ``genstudio models`` show about it (JSON)."""
        w, h = self.size
        what = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x"}.get(self.version, "diffusion pipeline")
        form = "diffusers folder" if self.kind == "folder" else "single file"
        return {"kind": self.kind, "version": self.version, "width": w, "height": h, "prediction": self.prediction,
                "schedule": self.schedule, "title": f"{what} ({form})"}


def describe(path: str | Path) -> PipelineSource:
    """The pipeline at ``path`` (a diffusers folder or a single .safetensors file), checked."""
    path = Path(path).expanduser()
    if path.is_dir():
        source = _folder(path)
    elif path.is_file():
        source = _single_file(path)
    else:
        raise CheckpointError(f"{path} does not exist (moved or deleted?). Remove it from the studio with "
                              "'genstudio models remove', or add it again from where it is now.")
    _check_configs(source)
    return source


def is_pipeline_path(path: str | Path) -> bool:
    """Whether ``path`` is what 'Add model' takes: a folder, or a .safetensors file (checked by describe)."""
    p = Path(path)
    return p.is_dir() or (p.is_file() and p.suffix.lower() == ".safetensors")


def default_id(path: Path) -> str:
    """An id for a pipeline from its name: its folder's or file's name without .safetensors."""
    name = path.name[: -len(".safetensors")] if path.name.lower().endswith(".safetensors") else path.name
    return clean_id(name)


def clean_id(name: str) -> str:
    """``name`` with the characters a checkpoint id may not hold (folders, drives, control characters,
    "..", a leading dot) replaced or dropped."""
    name = re.sub(r"\.{2,}", ".", re.sub(r"[/\\:\x00-\x1f\x7f]", "-", name)).strip().lstrip(".")
    return name[:120] or "pipeline"


# --- a diffusers folder -------------------------------------------------------------------------------
def _folder(path: Path) -> PipelineSource:
    index = path / "model_index.json"
    if not index.is_file():
        raise CheckpointError(f"{path.name} is not a diffusers pipeline folder: it has no model_index.json. Give "
                              "the folder that holds model_index.json, unet/, vae/, text_encoder/, tokenizer/ "
                              "and scheduler/, or a single .safetensors file.")
    model_index = _json(index, path.name)
    cls = str(model_index.get("_class_name", ""))
    if "text_encoder_2" in model_index or "XL" in cls or (cls and not cls.startswith("StableDiffusion")):
        raise CheckpointError(f"{path.name} is a {cls or 'diffusers'} pipeline; the studio opens Stable Diffusion "
                              "1.x/2.x pipelines (one CLIP text encoder, a U-Net, a VAE).")
    missing = [c for c in COMPONENTS if not (path / c).is_dir()]
    if missing:
        raise CheckpointError(_missing(path.name, missing, "folder"))
    configs: dict[str, dict] = {}
    weights: dict[str, tuple[Path, ...]] = {}
    files = [index]
    for component, config_name in CONFIGS.items():
        config = path / component / config_name
        if not config.is_file():
            raise CheckpointError(_missing(path.name, [component], f"{config_name} in {component}/"))
        configs[component] = _json(config, f"{path.name}/{component}/{config_name}")
        files.append(config)
        if component in WEIGHTS:
            weights[component] = _weights(path, component)
            files += weights[component]
    tokenizer = path / "tokenizer"
    if not all((tokenizer / f).is_file() for f in TOKENIZER_FILES):
        raise CheckpointError(_missing(path.name, ["tokenizer"], "vocab.json and merges.txt in tokenizer/"))
    files += [tokenizer / f for f in TOKENIZER_FILES + TOKENIZER_EXTRAS if (tokenizer / f).is_file()]
    return PipelineSource(path, "folder", "", configs, weights, tokenizer, tuple(files))


def _weights(root: Path, component: str) -> tuple[Path, ...]:
    """A component's .safetensors weights: the full-precision file, else its fp16 variant, else its shards."""
    folder, stem = root / component, WEIGHTS[component]
    for name in (f"{stem}.safetensors", f"{stem}.fp16.safetensors"):
        if (folder / name).is_file():
            return (folder / name,)
    for name in (f"{stem}.safetensors.index.json", f"{stem}.safetensors.index.fp16.json"):
        index = folder / name
        if index.is_file():
            shards = sorted(set((_json(index, f"{root.name}/{component}/{name}").get("weight_map") or {}).values()))
            paths = tuple(folder / s for s in shards)
            if not shards or not all(p.is_file() for p in paths):
                raise CheckpointError(_missing(root.name, [component], "the weight shards its index names"))
            return (index, *paths)
    if any(folder.glob("*.bin")) or any(folder.glob("*.ckpt")):
        raise CheckpointError(f"{root.name}/{component} holds only pickled (.bin) weights; the studio reads "
                              ".safetensors weights only, which cannot run code when they are opened. Convert "
                              "them (diffusers' save_pretrained writes .safetensors) or use a .safetensors copy.")
    raise CheckpointError(_missing(root.name, [component], f"its weights ({stem}.safetensors)"))


def _missing(name: str, components: list[str], what: str) -> str:
    listed = ", ".join(f"{c} ({COMPONENTS[c]})" for c in components)
    if what == "folder":
        return (f"The pipeline folder {name} is missing {listed}: a diffusers Stable Diffusion folder has unet/, "
                "vae/, text_encoder/, tokenizer/ and scheduler/ beside model_index.json. Nothing is downloaded: "
                "copy the missing folder from the model's original files.")
    return f"The pipeline {name} is missing {what}: its {listed} cannot be loaded."


def _json(path: Path, name: str) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{name} cannot be read as JSON ({e}).") from e
    if not isinstance(value, dict):
        raise CheckpointError(f"{name} is not a JSON object.")
    return value


# --- a single file ------------------------------------------------------------------------------------
def read_header(path: Path) -> tuple[dict[str, list[int]], dict[str, str]]:
    """(tensor name -> shape, metadata) from a safetensors file's header, without reading its tensors."""
    header = dict(read_safetensors_header(path))
    meta = header.pop("__metadata__", None) or {}
    shapes = {k: list(v.get("shape", [])) for k, v in header.items() if isinstance(v, dict)}
    return shapes, meta if isinstance(meta, dict) else {}


def _single_file(path: Path) -> PipelineSource:
    if path.suffix.lower() in (".ckpt", ".pt", ".pth", ".bin"):
        raise CheckpointError(f"{path.name} is a pickled checkpoint; the studio reads .safetensors files only, "
                              "which cannot run code when they are opened. Use a .safetensors copy of the model.")
    if path.suffix.lower() != ".safetensors":
        raise CheckpointError(f"{path.name} is not a .safetensors file or a diffusers folder.")
    shapes, meta = read_header(path)
    if meta.get("format") == "generative-studio":
        raise CheckpointError(f"{path.name} is a Generative Studio checkpoint, not a Stable Diffusion one: copy it "
                              "into the studio's checkpoints folder instead.")
    if CONFIG_KEY in meta:
        try:
            configs = json.loads(meta[CONFIG_KEY])
        except (ValueError, RecursionError) as e:
            raise CheckpointError(f"{path.name} has damaged pipeline configs in its header ({e}).") from e
        if not isinstance(configs, dict) or not all(isinstance(configs.get(c), dict) for c in CONFIGS):
            raise CheckpointError(f"{path.name}'s header must give the unet, vae, text_encoder and scheduler "
                                  f"configs under {CONFIG_KEY!r}.")
        version = ""
    else:
        version, configs = recognise(path.name, shapes, path.with_suffix(".yaml"))
    tokenizer = _tokenizer_near(path, version)
    files = (path,) + tuple(tokenizer / f for f in TOKENIZER_FILES + TOKENIZER_EXTRAS
                            if tokenizer is not None and (tokenizer / f).is_file())
    return PipelineSource(path, "file", version, configs, {c: (path,) for c in WEIGHTS}, tokenizer, files)


def _tokenizer_near(path: Path, version: str) -> Path | None:
    """A single file carries no tokenizer: a ``tokenizer`` folder beside it (vocab.json, merges.txt),
    else one already in the Hugging Face cache; None if neither is there."""
    candidates = [path.parent / "tokenizer", path.parent / f"{default_id(path)}.tokenizer"]
    hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME") or Path.home() / ".cache" /
                                                      "huggingface") / "hub")
    for repo, sub in TOKENIZER_REPOS.get(version, ()):
        snapshots = hub / f"models--{repo.replace('/', '--')}" / "snapshots"
        if snapshots.is_dir():
            candidates += [s / sub if sub else s for s in sorted(snapshots.iterdir())]
    for folder in candidates:
        if all((folder / f).is_file() for f in TOKENIZER_FILES):
            return folder
    return None


def _check_configs(source: PipelineSource) -> None:
    name, c = source.name, source.configs
    scheduler = c["scheduler"]
    if scheduler.get("trained_betas") is not None:
        raise CheckpointError(f"{name}'s scheduler lists its own betas (trained_betas), which the studio's "
                              "samplers do not read yet.")
    if scheduler.get("beta_schedule", "linear") not in BETA_SCHEDULES:
        raise CheckpointError(f"{name}'s scheduler uses the {scheduler.get('beta_schedule')!r} beta schedule; the "
                              f"studio knows {', '.join(BETA_SCHEDULES)}.")
    if scheduler.get("prediction_type", "epsilon") not in PREDICTIONS:
        raise CheckpointError(f"{name}'s U-Net predicts {scheduler.get('prediction_type')!r}; the studio samples "
                              "models that predict the noise (epsilon) or v (v_prediction).")
    unet, vae = c["unet"], c["vae"]
    if unet.get("in_channels", 4) != vae.get("latent_channels", 4):
        raise CheckpointError(f"{name}'s U-Net reads {unet.get('in_channels')} channels but its VAE makes "
                              f"{vae.get('latent_channels')}: an inpainting or other conditioned U-Net, which the "
                              "studio does not run.")
    if not isinstance(vae.get("block_out_channels"), list) or not vae["block_out_channels"]:
        raise CheckpointError(f"{name}'s VAE config has no block_out_channels.")
    s = unet.get("sample_size")
    if not (isinstance(s, int) and s > 0) and not (isinstance(s, list) and len(s) == 2):
        raise CheckpointError(f"{name}'s U-Net config has no sample_size.")


def content_hash(source: PipelineSource, file_sha256: Callable[[Path], str] | None = None, length: int = 12) -> str:
    """The pipeline's hash, stored with every image it makes: a single file's sha256 (its first ten digits
    are AUTOMATIC1111's model hash), or for a folder the sha256 of its files' names and sha256s.
    ``file_sha256``: a (cached) full sha256 of one file."""
    file_sha256 = file_sha256 or sha256_of
    if source.kind == "file":
        return file_sha256(source.path)[:length]
    lines = sorted(f"{p.relative_to(source.path).as_posix()} {file_sha256(p)}" for p in source.files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:length]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
