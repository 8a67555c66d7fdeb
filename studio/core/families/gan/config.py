"""Bounds on a GAN checkpoint's config, checked before the generator is built (torch-free, so the
registry checks a file while it lists it). The defaults are GANConfig's (a test keeps them equal)."""
from __future__ import annotations

from ...config_bounds import ConfigReader, check_latent_extras

GAN_DEFAULTS = {"image_size": 28, "channels": 1, "z_dim": 64, "g_channels": 64, "d_channels": 64, "loss": "hinge"}


def check_config(config: dict) -> None:
    """A CheckpointError naming the field for anything the GAN cannot be built from in sane memory."""
    top = ConfigReader(config, "gan")
    g, dflt = top.section("gan"), GAN_DEFAULTS
    size = g.integer("image_size", 4, 512, dflt["image_size"], multiple_of=4)
    g.one_of("channels", (1, 3), dflt["channels"])
    z = g.integer("z_dim", 1, 4096, dflt["z_dim"])
    w = g.integer("g_channels", 1, 1024, dflt["g_channels"])
    d = g.integer("d_channels", 1, 1024, dflt["d_channels"])
    g.one_of("loss", ("hinge", "nonsaturating"), dflt["loss"])
    start = 4 * w * (size // 4) ** 2  # the generator's first layer: z -> a 4*g_channels x size/4 grid
    g.layer(z * start, f"z_dim x 4 g_channels x (image_size/4)^2 = {z} x {start:,}")
    g.layer(4 * d * (size // 4) ** 2 + 4 * d * 2 * d * 9, "the discriminator's last layers")
    check_latent_extras(top)
