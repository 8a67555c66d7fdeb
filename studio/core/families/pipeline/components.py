"""The networks of a pipeline, built from its configs and weights on local disk: the U-Net, the VAE,
the CLIP text encoder and its tokenizer (diffusers and transformers, the optional "pipelines" extra,
are imported here and only here). A folder and a single file take the same road: configs plus one
state dict per network; a single file's original (LDM) tensor names are first converted with
diffusers' own conversion functions. Nothing is downloaded: no Hub name is ever given to a loader."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...errors import CheckpointError, StudioError
from .sources import INSTALL, PipelineSource


def require_diffusers() -> None:
    """Import diffusers and transformers, or say how to add them."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: no loader below is given a Hub name
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        raise StudioError(f"Opening your own Stable Diffusion models needs diffusers and transformers, which are "
                          f"not installed ({e.name} is missing). Add them with: {INSTALL}") from None


@dataclass
class Components:
    unet: Any  # diffusers UNet2DConditionModel
    vae: Any  # diffusers AutoencoderKL
    text_encoder: Any  # transformers CLIPTextModel
    tokenizer: Any  # transformers CLIPTokenizer
    max_length: int  # tokens the text encoder reads (77 for SD)


def load_components(source: PipelineSource, device: str, dtype: torch.dtype) -> Components:
    """The pipeline's networks in eval mode on ``device``: U-Net and text encoder in ``dtype``, the VAE in
    float32 (its decoder overflows in float16 on some SD VAEs)."""
    require_diffusers()
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    states = _file_states(source) if source.kind == "file" else None
    name = source.name
    with torch.device("meta"):  # no random initialisation of weights that are about to be replaced
        unet = UNet2DConditionModel.from_config(_plain(source.configs["unet"]))
        vae = AutoencoderKL.from_config(_plain(source.configs["vae"]))
    # The text encoder is built for real: it has buffers (position ids) that no checkpoint stores.
    text_encoder = CLIPTextModel(CLIPTextConfig.from_dict(dict(source.configs["text_encoder"])))
    for component, module in (("unet", unet), ("vae", vae), ("text_encoder", text_encoder)):
        state = states[component] if states is not None else _folder_state(source, component)
        _load(module, state, component, name)
    for module, want in ((unet, dtype), (text_encoder, dtype), (vae, torch.float32)):
        _place(module, device, want)
    tokenizer = _tokenizer(source)
    max_length = min(int(tokenizer.model_max_length), int(text_encoder.config.max_position_embeddings))
    return Components(unet, vae, text_encoder, tokenizer, max_length)


def _place(module: torch.nn.Module, device: str, dtype: torch.dtype) -> None:
    """On ``device`` in ``dtype``, in eval mode and without gradients (cast only where needed: diffusers
    warns at every dtype cast)."""
    if any(p.dtype != dtype for p in module.parameters()):
        module.to(dtype)
    module.to(device).eval().requires_grad_(False)


def _plain(config: dict) -> dict:
    """A diffusers/transformers config without its bookkeeping keys."""
    return {k: v for k, v in config.items() if not k.startswith("_") and k != "architectures"}


def _read(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path.name} is corrupt or truncated and cannot be read ({e}).") from e


def _folder_state(source: PipelineSource, component: str) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for path in source.weights[component]:
        if path.suffix == ".safetensors":
            state.update(_read(path))
    return state


def _file_states(source: PipelineSource) -> dict[str, dict[str, torch.Tensor]]:
    """A single original-layout checkpoint's tensors, converted to the diffusers names of each network."""
    try:
        return convert_original(_read(source.path), source.configs)
    except (KeyError, IndexError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{source.name} does not have the layout of a Stable Diffusion checkpoint "
                              f"(converting its tensors failed at {e}).") from e


def convert_original(checkpoint: dict[str, torch.Tensor], configs: dict[str, dict]) -> dict[str, dict]:
    """Original (LDM) tensor names -> {"unet", "vae", "text_encoder"} state dicts with diffusers' names,
    by diffusers' own conversion functions (CLIP for SD 1.x, OpenCLIP for SD 2.x)."""
    require_diffusers()
    from diffusers.loaders.single_file_utils import (
        convert_ldm_clip_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
        convert_open_clip_checkpoint,
    )
    from transformers import CLIPTextConfig

    ema = sum(k.startswith("model_ema.") for k in checkpoint) > 100  # the EMA weights, when it has both
    unet = convert_ldm_unet_checkpoint(checkpoint, configs["unet"], extract_ema=ema)
    vae = convert_ldm_vae_checkpoint(checkpoint, configs["vae"])
    if any(k.startswith("cond_stage_model.model.") for k in checkpoint):  # OpenCLIP (SD 2.x)
        shell = _Shell(CLIPTextConfig.from_dict(dict(configs["text_encoder"])))
        text = convert_open_clip_checkpoint(shell, checkpoint, prefix="cond_stage_model.model.")
    else:
        text = convert_ldm_clip_checkpoint(checkpoint)
    return {"unet": unet, "vae": vae, "text_encoder": text}


@dataclass
class _Shell:
    """What convert_open_clip_checkpoint reads of the text model: its config."""

    config: Any


def _load(module: torch.nn.Module, state: dict[str, torch.Tensor], component: str, name: str) -> None:
    """Load ``state`` into ``module`` (assigning the tensors, so a meta-device module gets real ones); a
    mismatch is a CheckpointError naming the component."""
    expected = module.state_dict().keys()
    state = _align_prefix(state, expected, "text_model.")
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}  # a buffer older files kept
    missing = sorted(set(expected) - set(state) - {k for k in expected if k.endswith("position_ids")})
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        detail = "; ".join(f"{what} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                           for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys)
        raise CheckpointError(f"The {component} of {name} does not match its config ({detail}).")
    try:
        module.load_state_dict(state, strict=False, assign=True)
    except RuntimeError as e:
        first = " ".join(str(e).splitlines()[:3])
        raise CheckpointError(f"The {component} of {name} does not match its config: {first}") from e
    empty = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if empty:
        raise CheckpointError(f"The {component} of {name} has no values for {', '.join(empty[:3])}.")


def _align_prefix(state: dict[str, torch.Tensor], expected, prefix: str) -> dict[str, torch.Tensor]:
    """transformers >= 5.6 dropped CLIPTextModel's ``text_model.`` level: names as the module wants them."""
    wants = any(k.startswith(prefix) for k in expected)
    has = any(k.startswith(prefix) for k in state)
    if has and not wants:
        return {k.removeprefix(prefix): v for k, v in state.items()}
    if wants and not has:
        return {prefix + k: v for k, v in state.items()}
    return state


def _tokenizer(source: PipelineSource):
    from transformers import CLIPTokenizer

    folder = source.tokenizer
    if folder is None:
        raise CheckpointError(
            f"{source.name} has no tokenizer (the tokenizer of the prompt): a single file does not carry one. Put "
            "the CLIP tokenizer's vocab.json and merges.txt in a folder named 'tokenizer' beside the file (any SD "
            f"{'2' if source.version == 'sd2' else '1'}.x diffusers folder has one), or open the model as a "
            "diffusers folder. Nothing is downloaded.")
    options = {}
    if source.version == "sd2" and not (folder / "special_tokens_map.json").is_file():
        options["pad_token"] = "!"  # SD 2.x pads with "!", as its own tokenizer config says
    try:
        return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True, **options)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"The tokenizer of {source.name} ({folder}) cannot be read: {e}") from e
