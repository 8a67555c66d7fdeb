"""Bounds on a GAN checkpoint's config, checked before the generator is built (torch-free, so the
registry checks a file while it lists it). The defaults are GANConfig's (a test keeps them equal).
Also the bounds of the training options that change no weights (DiffAugment, R1), checked by the
task builder before it loads any data."""
from __future__ import annotations

import math

from ...config_bounds import ConfigReader, check_latent_extras
from ...errors import StudioError

GAN_DEFAULTS = {"image_size": 28, "channels": 1, "z_dim": 64, "g_channels": 64, "d_channels": 64, "loss": "hinge",
                "mapping": 0}
MAX_MAPPING = 8  # StyleGAN's depth; more only slows a small generator down
DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")  # in the order they are applied
MAX_R1 = 1000.0  # StyleGAN2 uses 0.01 to 100 depending on the resolution; far beyond that is a typo


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
    g.integer("mapping", 0, MAX_MAPPING, dflt["mapping"])
    start = 4 * w * (size // 4) ** 2  # the generator's first layer: z -> a 4*g_channels x size/4 grid
    g.layer(z * start, f"z_dim x 4 g_channels x (image_size/4)^2 = {z} x {start:,}")
    g.layer(4 * d * (size // 4) ** 2 + 4 * d * 2 * d * 9, "the discriminator's last layers")
    check_latent_extras(top)


def parse_diffaugment(policy: str | None, channels: int) -> tuple[str, ...]:
    """``--diffaugment``'s comma-separated transforms (``""`` or ``none``: off), as a tuple."""
    names = [p.strip().lower() for p in (policy or "").split(",") if p.strip()]
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in DIFFAUGMENT_POLICIES]
    if unknown:
        raise StudioError(f"Unknown DiffAugment transform {unknown[0]!r}; known: {', '.join(DIFFAUGMENT_POLICIES)} "
                          "(comma-separated, or none).")
    if "color" in names and channels != 3:
        raise StudioError("DiffAugment's color transform is for colour images; this data set is greyscale "
                          "(use translation,cutout).")
    return tuple(n for n in DIFFAUGMENT_POLICIES if n in names)


def check_training_options(*, r1: float, mapping: int, d_lr: float | None) -> None:
    """A StudioError for a training option out of bounds (the config's own bounds are check_config's)."""
    if not (isinstance(r1, (int, float)) and math.isfinite(r1) and 0 <= r1 <= MAX_R1):
        raise StudioError(f"--r1 (the R1 penalty's gamma) must be from 0 (off) to {MAX_R1:g}, not {r1}.")
    if type(mapping) is not int or not 0 <= mapping <= MAX_MAPPING:
        raise StudioError(f"--mapping (layers of the mapping network) must be from 0 (none) to {MAX_MAPPING}, "
                          f"not {mapping}.")
    if d_lr is not None and not (math.isfinite(d_lr) and 0 < d_lr <= 1):
        raise StudioError(f"--d-lr (the critic's learning rate) must be above 0 and at most 1, not {d_lr}.")
