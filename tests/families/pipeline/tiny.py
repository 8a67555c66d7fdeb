"""Tiny random Stable Diffusion-class pipelines, built in the tests (a U-Net, a VAE and a CLIP text
encoder of a few thousand parameters, a tokenizer over a small byte-level vocabulary written here),
saved as a diffusers folder or as a single original-layout (LDM) .safetensors file, as the desks'
users have them. The single file is written by mapping the diffusers names back to the original
ones, the inverse of the conversion the studio runs when it opens one."""
from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

SIZE = 16  # pixels: an 8x8 latent through a VAE that halves once
UNET = {"sample_size": 8, "in_channels": 4, "out_channels": 4, "layers_per_block": 1, "block_out_channels": [8, 16],
        "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
        "cross_attention_dim": 16, "attention_head_dim": 2, "norm_num_groups": 4}
VAE = {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "block_out_channels": [8, 16], "layers_per_block": 1,
       "norm_num_groups": 4, "sample_size": SIZE, "down_block_types": ["DownEncoderBlock2D"] * 2,
       "up_block_types": ["UpDecoderBlock2D"] * 2, "scaling_factor": 0.18215}
SCHEDULER = {"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
             "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1}
WORDS = ("a", "cat", "boot", "ankle", "high", "dog", "red")  # merged into whole-word tokens
_BUILT: dict[tuple, Path] = {}


def shared(name: str = "tiny-sd", *, single_file: bool = False, prediction: str = "epsilon") -> Path:
    """A tiny pipeline folder (or single file) named ``name``, built once per test process and only read
    afterwards: tests register it in their own data folder (the pipeline stays where it is, as a user's)."""
    key = (name, single_file, prediction)
    if key not in _BUILT:
        root = Path(tempfile.mkdtemp(prefix="tiny-sd-"))
        atexit.register(shutil.rmtree, root, True)
        folder = save_folder(root / "folders" / name, prediction=prediction)
        _BUILT[key] = save_single_file(root / "files" / f"{name}.safetensors", folder) if single_file else folder
    return _BUILT[key]


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's printable stand-in for each of the 256 bytes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tokenizer(folder: Path, max_length: int = 16) -> int:
    """A CLIP BPE tokenizer: every byte as a token (alone and word-final), a few merged words, start and
    end tokens. Returns the vocabulary size."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_chars()
    tokens = chars + [c + "</w>" for c in chars]
    merges = []
    for word in WORDS:  # merge left to right: "c a" -> "ca", "ca t</w>" -> "cat</w>"
        piece = word[0]
        for k, ch in enumerate(word[1:], 1):
            tail = ch + ("</w>" if k == len(word) - 1 else "")
            merges.append(f"{piece} {tail}")
            piece = piece + tail
            if piece not in tokens:
                tokens.append(piece)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": max_length}), encoding="utf-8")
    return len(tokens)


def text_config(vocab: int) -> dict:
    return {"vocab_size": vocab, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 2, "max_position_embeddings": 16, "projection_dim": 16, "hidden_act": "quick_gelu",
            "bos_token_id": vocab - 2, "eos_token_id": vocab - 1, "pad_token_id": vocab - 1}


def save_folder(path: Path, *, seed: int = 0, prediction: str = "epsilon") -> Path:
    """A diffusers pipeline folder of random tiny networks (the same ``seed``, the same weights)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet, vae = UNet2DConditionModel(**UNET), AutoencoderKL(**VAE)
    vocab = write_tokenizer(path / "tokenizer")
    text = CLIPTextModel(CLIPTextConfig.from_dict(text_config(vocab)))
    unet.save_pretrained(path / "unet")
    vae.save_pretrained(path / "vae")
    text.save_pretrained(path / "text_encoder")
    (path / "scheduler").mkdir(parents=True, exist_ok=True)
    (path / "scheduler" / "scheduler_config.json").write_text(json.dumps({**SCHEDULER, "prediction_type": prediction}))
    index = {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "PNDMScheduler"]}
    (path / "model_index.json").write_text(json.dumps(index))
    return path


def save_single_file(path: Path, folder: Path) -> Path:
    """The pipeline ``folder`` as one original-layout .safetensors file (U-Net under model.diffusion_model,
    VAE under first_stage_model, CLIP under cond_stage_model.transformer), its configs in the header
    (it is not SD 1.x/2.x-sized), and its tokenizer in a ``tokenizer`` folder beside it."""
    from safetensors.torch import load_file, save_file

    from studio.core.families.pipeline.sources import CONFIG_KEY

    configs = {c: json.loads((folder / c / name).read_text())
               for c, name in (("unet", "config.json"), ("vae", "config.json"), ("text_encoder", "config.json"),
                               ("scheduler", "scheduler_config.json"))}
    unet = load_file(str(folder / "unet" / "diffusion_pytorch_model.safetensors"))
    vae = load_file(str(folder / "vae" / "diffusion_pytorch_model.safetensors"))
    text = load_file(str(folder / "text_encoder" / "model.safetensors"))
    tensors = {"model.diffusion_model." + k: v for k, v in unet_to_ldm(unet, configs["unet"]).items()}
    tensors |= {"first_stage_model." + k: v for k, v in vae_to_ldm(vae, configs["vae"]).items()}
    tensors |= {"cond_stage_model.transformer." + (k if k.startswith("text_model.") else "text_model." + k): v
                for k, v in text.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={CONFIG_KEY: json.dumps(configs)})
    shutil.copytree(folder / "tokenizer", path.parent / "tokenizer", dirs_exist_ok=True)
    return path


def unet_to_ldm(state: dict, config: dict) -> dict:
    """diffusers UNet2DConditionModel names -> the original LDM U-Net's (any block count and depth)."""
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    top = DIFFUSERS_TO_LDM_MAPPING["unet"]["layers"]
    resnet = (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
              ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection"))
    n, depth = len(config["block_out_channels"]), config["layers_per_block"]
    prefixes = [("mid_block.resnets.0.", "middle_block.0.", True), ("mid_block.attentions.0.", "middle_block.1.", False),
                ("mid_block.resnets.1.", "middle_block.2.", True)]
    for b in range(n):
        for j in range(depth):
            i = 1 + b * (depth + 1) + j
            prefixes += [(f"down_blocks.{b}.resnets.{j}.", f"input_blocks.{i}.0.", True),
                         (f"down_blocks.{b}.attentions.{j}.", f"input_blocks.{i}.1.", False)]
        for j in range(depth + 1):
            i = b * (depth + 1) + j
            prefixes += [(f"up_blocks.{b}.resnets.{j}.", f"output_blocks.{i}.0.", True),
                         (f"up_blocks.{b}.attentions.{j}.", f"output_blocks.{i}.1.", False)]
        if b < n - 1:
            attends = any(k.startswith(f"up_blocks.{b}.attentions.") for k in state)
            prefixes += [(f"down_blocks.{b}.downsamplers.0.conv.", f"input_blocks.{(b + 1) * (depth + 1)}.0.op.", False),
                         (f"up_blocks.{b}.upsamplers.0.conv.",
                          f"output_blocks.{b * (depth + 1) + depth}.{2 if attends else 1}.conv.", False)]
    out = {}
    for key, value in state.items():
        if key in top:
            out[top[key]] = value
            continue
        for new, old, is_resnet in prefixes:
            if key.startswith(new):
                rest = key[len(new):]
                for a, b_ in resnet if is_resnet else ():
                    rest = rest.replace(a, b_)
                out[old + rest] = value
                break
        else:
            raise KeyError(f"no LDM name for {key}")
    return out


def vae_to_ldm(state: dict, config: dict) -> dict:
    """diffusers AutoencoderKL names -> the original LDM autoencoder's (attention as 1x1 convolutions)."""
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    top = DIFFUSERS_TO_LDM_MAPPING["vae"]
    n = len(config["block_out_channels"])
    prefixes = []
    for i in range(n):
        prefixes += [(f"encoder.down_blocks.{i}.resnets.", f"encoder.down.{i}.block."),
                     (f"encoder.down_blocks.{i}.downsamplers.0.conv.", f"encoder.down.{i}.downsample.conv."),
                     (f"decoder.up_blocks.{i}.resnets.", f"decoder.up.{n - 1 - i}.block."),
                     (f"decoder.up_blocks.{i}.upsamplers.0.conv.", f"decoder.up.{n - 1 - i}.upsample.conv.")]
    for part in ("encoder", "decoder"):
        prefixes += [(f"{part}.mid_block.resnets.0.", f"{part}.mid.block_1."),
                     (f"{part}.mid_block.resnets.1.", f"{part}.mid.block_2."),
                     (f"{part}.mid_block.attentions.0.", f"{part}.mid.attn_1.")]
    attention = (("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."), ("to_out.0.", "proj_out."))
    out = {}
    for key, value in state.items():
        if key in top:
            out[top[key]] = value
            continue
        for new, old in prefixes:
            if key.startswith(new):
                rest = key[len(new):].replace("conv_shortcut", "nin_shortcut")
                if ".mid.attn_1." in old:
                    for a, b in attention:
                        rest = rest.replace(a, b)
                    if value.dim() == 2:
                        value = value[:, :, None, None]  # linear -> 1x1 convolution
                out[old + rest] = value
                break
        else:
            raise KeyError(f"no LDM name for {key}")
    return out
