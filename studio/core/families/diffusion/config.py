"""Bounds on a diffusion checkpoint's config, checked before the denoiser is built (torch-free, so the
registry checks a file while it lists it); the U-Net's and schedule's are studio.core.denoising.bounds'."""
from __future__ import annotations

from ...config_bounds import ConfigReader
from ...denoising.bounds import (
    MAX_ATTENTION_SIDE,
    UNET_DEFAULTS,
    check_context,
    check_schedule,
    check_unet,
)

DIT_DEFAULTS = {"in_channels": 1, "image_size": 28, "patch_size": 2, "hidden": 128, "depth": 6, "heads": 4,
                "mlp_ratio": 4.0, "cond_dim": 384, "context_dim": 0}
# A latent diffusion checkpoint's autoencoder (AutoencoderConfig's defaults; a test keeps them equal).
AUTOENCODER_DEFAULTS = {"in_channels": 1, "image_size": 28, "latent_channels": 4, "base_channels": 32,
                        "downsample": 2, "res_blocks": 1, "kl_weight": 1e-6}


def check_config(config: dict) -> None:
    """A CheckpointError naming the field for anything the U-Net and schedule cannot be built from
    in sane memory."""
    top = ConfigReader(config, "diffusion")
    top.one_of("prediction", ("epsilon", "v"), "epsilon")
    if top.one_of("arch", ("unet", "dit"), "unet") == "dit":
        denoiser, defaults = top.section("dit", required=True), DIT_DEFAULTS
        _check_dit(denoiser)
    else:
        denoiser, defaults = top.section("unet"), UNET_DEFAULTS
        check_unet(denoiser)
    check_schedule(top.section("schedule"))
    if "autoencoder" in config:  # latent diffusion: the denoiser works on the autoencoder's latent
        _check_latent(top.section("autoencoder"), denoiser, defaults)


def _check_latent(a: ConfigReader, denoiser: ConfigReader, defaults: dict) -> None:
    """The autoencoder's bounds (AutoencoderConfig's), and a denoiser sized to its latent."""
    dflt = AUTOENCODER_DEFAULTS
    a.one_of("in_channels", (1, 3), dflt["in_channels"])
    side = a.integer("image_size", 4, 512, dflt["image_size"])
    latent_channels = a.integer("latent_channels", 1, 64, dflt["latent_channels"])
    a.integer("base_channels", 1, 256, dflt["base_channels"])
    for _ in range(a.integer("downsample", 0, 4, dflt["downsample"])):
        side = (side + 1) // 2  # a stride-2 conv with padding 1 rounds up
    a.integer("res_blocks", 0, 4, dflt["res_blocks"])
    a.number("kl_weight", 0.0, 1.0, dflt["kl_weight"])
    channels = denoiser.d.get("in_channels", defaults["in_channels"])  # both already checked
    if channels != latent_channels:
        denoiser.fail("in_channels", channels, f"the autoencoder's latent_channels ({latent_channels})")
    size = denoiser.d.get("image_size", defaults["image_size"])
    if size != side:
        denoiser.fail("image_size", size, f"the side of the autoencoder's latent ({side})")


def _check_dit(d: ConfigReader) -> None:
    dflt = DIT_DEFAULTS
    d.one_of("in_channels", (1, 3, 4), dflt["in_channels"])
    size = d.integer("image_size", 2, 512, dflt["image_size"])
    patch = d.integer("patch_size", 1, 16, dflt["patch_size"])
    heads = d.integer("heads", 1, 64, dflt["heads"])
    hidden = d.integer("hidden", 4, 4096, dflt["hidden"], multiple_of=4)  # 2-D sin-cos positions: 4 parts
    if hidden % heads:
        d.fail("hidden", hidden, f"a multiple of heads ({heads})")
    d.integer("depth", 1, 64, dflt["depth"])
    d.number("mlp_ratio", 0.25, 16.0, dflt["mlp_ratio"])
    if (-(-size // patch)) ** 2 > MAX_ATTENTION_SIDE**2:
        d.fail("image_size", size, f"at most {MAX_ATTENTION_SIDE**2} patches of {patch}x{patch}")
    check_context(d, dflt)
