"""Bounds on a VAE checkpoint's config, checked before the model is built (torch-free, so the
registry checks a file while it lists it). The defaults are VAEConfig's (a test keeps them equal)."""
from __future__ import annotations

from ...config_bounds import ConfigReader, check_latent_extras

VAE_DEFAULTS = {"image_size": 28, "channels": 1, "latent_dim": 2, "hidden": (32, 64), "fc_dim": 256,
                "cond_dim": 0, "cond_features": 64}


def check_config(config: dict) -> None:
    """A CheckpointError naming the field for anything the VAE cannot be built from in sane memory."""
    top = ConfigReader(config, "vae")
    v, dflt = top.section("vae"), VAE_DEFAULTS
    size = v.integer("image_size", 4, 512, dflt["image_size"], multiple_of=4)
    v.one_of("channels", (1, 3), dflt["channels"])
    latent = v.integer("latent_dim", 1, 4096, dflt["latent_dim"])
    h1, h2 = v.int_list("hidden", 1, 1024, dflt["hidden"], min_len=2, max_len=2)
    fc = v.integer("fc_dim", 1, 4096, dflt["fc_dim"])
    cond = v.integer("cond_dim", 0, 4096, dflt["cond_dim"])
    features = v.integer("cond_features", 1, 1024, dflt["cond_features"])
    cf = features if cond else 0  # the prompt's projection only exists in a conditional VAE
    flat = h2 * (size // 4) ** 2
    v.layer((flat + cf) * fc, f"hidden[1] x (image_size/4)^2 = {flat:,} features into fc_dim {fc}")
    v.layer((latent + cf) * fc, "latent_dim into fc_dim")
    check_latent_extras(top)
