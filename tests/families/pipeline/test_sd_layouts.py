"""The real SD 1.x/2.x shapes, without their weights: the networks the studio builds from its written-in
configs have the known parameter counts of the released models, and an SD 1.x-sized original-layout
key set (made on the meta device, no memory) is recognised and converts onto exactly those networks.
What a real checkpoint file adds (its values) cannot be checked here; these are its names and shapes."""
from __future__ import annotations

import pytest

pytest.importorskip("diffusers")

import torch  # noqa: E402

from studio.core.denoising.schedule import NoiseSchedule, ScheduleConfig  # noqa: E402
from studio.core.errors import CheckpointError  # noqa: E402
from studio.core.families.pipeline.components import convert_original  # noqa: E402
from studio.core.families.pipeline.configs import CONTEXT, SD2_TEXT, recognise, sd_configs  # noqa: E402

from .tiny import unet_to_ldm, vae_to_ldm  # noqa: E402

# Parameters of the released networks: SD 1.5's U-Net, SD 2.1's U-Net, the SD VAE, CLIP ViT-L/14's text
# tower, OpenCLIP ViT-H/14's text tower less its last layer.
COUNTS = {"sd1": (859_520_964, 83_653_863, 123_060_480), "sd2": (865_910_724, 83_653_863, 340_387_840)}


def _networks(configs: dict) -> tuple:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    plain = {c: {k: v for k, v in configs[c].items() if not k.startswith("_")} for c in ("unet", "vae")}
    with torch.device("meta"):
        return (UNet2DConditionModel.from_config(plain["unet"]), AutoencoderKL.from_config(plain["vae"]),
                CLIPTextModel(CLIPTextConfig.from_dict(configs["text_encoder"])))


@pytest.mark.parametrize("version", ["sd1", "sd2"])
def test_the_written_in_configs_build_the_released_networks(version):
    networks = _networks(sd_configs(version, "v_prediction" if version == "sd2" else "epsilon"))
    assert tuple(sum(p.numel() for p in n.parameters()) for n in networks) == COUNTS[version]


def test_an_sd1_layout_is_recognised_and_converts_onto_its_networks():
    configs = sd_configs("sd1")
    unet, vae, text = _networks(configs)
    original = {"model.diffusion_model." + k: v for k, v in unet_to_ldm(unet.state_dict(), configs["unet"]).items()}
    original |= {"first_stage_model." + k: v for k, v in vae_to_ldm(vae.state_dict(), configs["vae"]).items()}
    original |= {"cond_stage_model.transformer.text_model." + k.removeprefix("text_model."): v
                 for k, v in text.state_dict().items()}
    shapes = {k: list(v.shape) for k, v in original.items()}
    assert "model.diffusion_model.output_blocks.2.1.conv.weight" in shapes  # the released files' names
    assert "first_stage_model.decoder.up.3.block.0.conv1.weight" in shapes
    assert recognise("v1-5.safetensors", shapes) == ("sd1", configs)
    converted = convert_original(original, configs)
    for name, network in (("unet", unet), ("vae", vae), ("text_encoder", text)):
        want = {k.removeprefix("text_model."): v.shape for k, v in network.state_dict().items()
                if not k.endswith("position_ids")}
        got = {k.removeprefix("text_model."): v.shape for k, v in converted[name].items()
               if not k.endswith("position_ids")}
        assert got == want, name


def test_sd2_and_what_is_not_sd_are_told_apart(tmp_path):
    configs = sd_configs("sd1")
    unet, vae, _ = _networks(configs)
    shapes = {"model.diffusion_model." + k: list(v.shape) for k, v in unet_to_ldm(unet.state_dict(),
                                                                                    configs["unet"]).items()}
    shapes |= {"first_stage_model." + k: list(v.shape) for k, v in vae_to_ldm(vae.state_dict(), configs["vae"]).items()}
    sd2 = dict(shapes, **{SD2_TEXT: [49408, 1024], CONTEXT: [320, 1024]})
    version, c = recognise("v2-1_768.safetensors", sd2)
    assert (version, c["scheduler"]["prediction_type"], c["unet"]["sample_size"]) == ("sd2", "v_prediction", 96)
    yaml = tmp_path / "v2-base.yaml"
    yaml.write_text("model:\n  params:\n    linear_start: 0.00085\n")  # an A1111 sidecar without v
    version, c = recognise("v2-base.safetensors", sd2, yaml)
    assert (c["scheduler"]["prediction_type"], c["unet"]["sample_size"]) == ("epsilon", 64)
    for bad, message in ((dict(sd2, **{"conditioner.embedders.1.model.ln_final.weight": [1280]}), "XL"),
                         (dict(sd2, **{"model.diffusion_model.input_blocks.0.0.weight": [320, 9, 3, 3]}),
                          "inpainting"),
                         ({k: v for k, v in shapes.items() if not k.startswith("first_stage_model.")},
                          "missing its vae"),
                         ({"lora_unet_down.weight": [4, 4]}, "not a Stable Diffusion checkpoint")):
        with pytest.raises(CheckpointError, match=message):
            recognise("x.safetensors", bad)


def test_scaled_linear_betas_are_diffusers_own():
    from diffusers import DDPMScheduler

    ours = NoiseSchedule(ScheduleConfig(1000, "scaled_linear", 0.00085, 0.012)).alphas_cumprod
    theirs = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012).alphas_cumprod
    assert torch.allclose(ours, theirs.double(), atol=1e-6)  # theirs in float32
