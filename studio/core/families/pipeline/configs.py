"""The architectures a single-file Stable Diffusion checkpoint is recognised as, written here so that
nothing is fetched: the diffusers configs of the U-Net, VAE, text encoder and scheduler of SD 1.x
(runwayml/stable-diffusion-v1-5) and SD 2.x (stabilityai/stable-diffusion-2-1 and its 512-px base).
A single file holds only weights in the original (LDM) layout; which of these it is is read from
its tensor names and shapes, as diffusers' ``infer_diffusers_model_type`` does. Torch-free."""
from __future__ import annotations

import copy
import re
from pathlib import Path

from ...errors import CheckpointError

# The tensors that tell the layouts apart (names in the original LDM checkpoints).
UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
SD1_TEXT = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"
SD2_TEXT = "cond_stage_model.model.token_embedding.weight"
VAE_IN = "first_stage_model.encoder.conv_in.weight"
CONTEXT = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"  # (inner, context dim)
SDXL_MARK = "conditioner.embedders.1."

_SD_UNET = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
_SD_VAE = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
_SD_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
}
_CLIP_L = {  # openai/clip-vit-large-patch14's text tower (SD 1.x)
    "architectures": ["CLIPTextModel"],
    "hidden_act": "quick_gelu",
    "hidden_size": 768,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "projection_dim": 768,
    "vocab_size": 49408,
}
_OPEN_CLIP_H = {  # OpenCLIP ViT-H/14's text tower without its last layer (SD 2.x reads the penultimate one)
    "architectures": ["CLIPTextModel"],
    "hidden_act": "gelu",
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 16,
    "num_hidden_layers": 23,
    "projection_dim": 512,
    "vocab_size": 49408,
}


def sd_configs(version: str, prediction: str = "epsilon", size: int = 512) -> dict[str, dict]:
    """The components' diffusers configs of SD ``version`` ("sd1" or "sd2") at ``size`` pixels."""
    unet, vae, scheduler = (copy.deepcopy(c) for c in (_SD_UNET, _SD_VAE, _SD_SCHEDULER))
    text = copy.deepcopy(_CLIP_L if version == "sd1" else _OPEN_CLIP_H)
    if version == "sd2":
        unet.update(attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024, use_linear_projection=True,
                    upcast_attention=prediction == "v_prediction")  # 2.1-v upcasts (matters in fp16 only)
    unet["sample_size"] = size // 8
    vae["sample_size"] = size
    scheduler["prediction_type"] = prediction
    return {"unet": unet, "vae": vae, "text_encoder": text, "scheduler": scheduler}


def recognise(name: str, shapes: dict[str, list[int]], sidecar: Path | None = None) -> tuple[str, dict[str, dict]]:
    """(version, configs) of a single file from its tensors' names and shapes, or a CheckpointError
    saying what it is instead. ``sidecar``: an A1111-style ``<name>.yaml`` beside the file, whose
    ``parameterization: "v"`` marks a v-prediction SD 2.x model (without one, SD 2.x is taken to be
    the 768-px v-prediction model, as diffusers does; a yaml without it, the 512-px base)."""
    if any(k.startswith(SDXL_MARK) for k in shapes):
        raise CheckpointError(f"{name} is a Stable Diffusion XL checkpoint; the studio opens SD 1.x and 2.x models.")
    if UNET_IN not in shapes:
        raise CheckpointError(f"{name} is not a Stable Diffusion checkpoint: it has no U-Net "
                              "(model.diffusion_model.*) and no studio header.")
    in_channels = shapes[UNET_IN][1] if len(shapes[UNET_IN]) == 4 else 0
    if in_channels != 4:
        kind = "an inpainting" if in_channels == 9 else f"a {in_channels}-channel"
        raise CheckpointError(f"{name} is {kind} model; the studio opens text-to-image SD 1.x/2.x checkpoints.")
    missing = []
    if VAE_IN not in shapes:
        missing.append("vae (first_stage_model.*)")
    if SD1_TEXT in shapes:
        version = "sd1"
    elif SD2_TEXT in shapes:
        version = "sd2"
    else:
        version = ""
        missing.append("text_encoder (cond_stage_model.*)")
    if missing:
        raise CheckpointError(f"{name} is missing its {' and its '.join(missing)}: it is not a complete Stable "
                              "Diffusion checkpoint.")
    context = shapes.get(CONTEXT, [0, 0])[-1]
    if context != {"sd1": 768, "sd2": 1024}[version]:
        raise CheckpointError(f"{name}: its U-Net reads {context}-wide text features, which matches neither "
                              "SD 1.x (768) nor SD 2.x (1024).")
    if version == "sd1":
        return version, sd_configs("sd1")
    v = True
    if sidecar is not None and sidecar.is_file():
        try:
            text = sidecar.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        v = re.search(r"""parameterization\s*:\s*["']?v["']?\s*$""", text, re.MULTILINE) is not None
    return version, sd_configs("sd2", "v_prediction" if v else "epsilon", 768 if v else 512)
