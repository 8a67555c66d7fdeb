"""Bounds on a diffusion checkpoint's config, checked before the U-Net is built (torch-free, so the
registry checks a file while it lists it). The defaults are UNetConfig's and ScheduleConfig's (a test
keeps them equal)."""
from __future__ import annotations

from ...config_bounds import ConfigReader

UNET_DEFAULTS = {"in_channels": 1, "image_size": 28, "base_channels": 32, "channel_mult": (1, 2, 2),
                 "num_res_blocks": 1, "attention_levels": (2,), "cond_dim": 384, "emb_dim": 128, "dropout": 0.0,
                 "context_dim": 0}
DIT_DEFAULTS = {"in_channels": 1, "image_size": 28, "patch_size": 2, "hidden": 128, "depth": 6, "heads": 4,
                "mlp_ratio": 4.0, "cond_dim": 384, "context_dim": 0}
SCHEDULES = ("cosine", "linear")  # the noise schedule kinds NoiseSchedule builds
SCHEDULE_DEFAULTS = {"num_train_timesteps": 1000, "kind": "cosine", "beta_start": 1e-4, "beta_end": 0.02}
# A latent diffusion checkpoint's autoencoder (AutoencoderConfig's defaults; a test keeps them equal).
AUTOENCODER_DEFAULTS = {"in_channels": 1, "image_size": 28, "latent_channels": 4, "base_channels": 32,
                        "downsample": 2, "res_blocks": 1, "kl_weight": 1e-6}
MAX_ATTENTION_SIDE = 64  # self-attention over side^2 positions: 4096 of them at most


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
        _check_unet(denoiser)
    _check_schedule(top.section("schedule"))
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


def _check_context(r: ConfigReader, dflt: dict) -> None:
    cond = r.integer("cond_dim", 0, 4096, dflt["cond_dim"])
    context = r.integer("context_dim", 0, 4096, dflt["context_dim"])
    if context and context != cond:  # the packed condition carries one width for both (studio.core.prompt.packed)
        r.fail("context_dim", context, f"0 or equal to cond_dim ({cond})")


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
    _check_context(d, dflt)


def _check_unet(u: ConfigReader) -> None:
    dflt = UNET_DEFAULTS
    u.one_of("in_channels", (1, 3, 4), dflt["in_channels"])
    size = u.integer("image_size", 4, 512, dflt["image_size"])
    base = u.integer("base_channels", 1, 1024, dflt["base_channels"])
    mult = u.int_list("channel_mult", 1, 16, dflt["channel_mult"], min_len=1, max_len=6)
    for m in mult:  # GroupNorm takes groups of 8 and attention 4 heads: widths are multiples of 8
        width = base * m
        if width % 8 or width > 1024:
            u.fail("base_channels", base, f"such that every base_channels x channel_mult width is a multiple "
                                          f"of 8 up to 1024 (channel_mult {list(mult)} gives {width})")
    u.integer("num_res_blocks", 1, 8, dflt["num_res_blocks"])
    levels = u.int_list("attention_levels", 0, len(mult) - 1, dflt["attention_levels"], max_len=len(mult))
    side = [size]  # the feature map's side at each level (a stride-2 conv rounds up)
    for _ in mult[1:]:
        side.append((side[-1] + 1) // 2)
    for level in (*levels, len(mult) - 1):  # the middle block always attends at the last level
        if side[level] > MAX_ATTENTION_SIDE:
            u.fail("image_size", size, f"small enough for attention at level {level} "
                                       f"({side[level]}x{side[level]} positions, at most "
                                       f"{MAX_ATTENTION_SIDE}x{MAX_ATTENTION_SIDE})")
    _check_context(u, dflt)
    u.integer("emb_dim", 2, 2048, dflt["emb_dim"], multiple_of=2)
    u.number("dropout", 0.0, 1.0, dflt["dropout"], below_hi=True)


def _check_schedule(s: ConfigReader) -> None:
    s.known_keys(SCHEDULE_DEFAULTS)  # ScheduleConfig(**schedule) takes no others
    s.integer("num_train_timesteps", 1, 10_000, SCHEDULE_DEFAULTS["num_train_timesteps"])
    s.one_of("kind", SCHEDULES, SCHEDULE_DEFAULTS["kind"])
    s.number("beta_start", 0.0, 1.0, SCHEDULE_DEFAULTS["beta_start"], below_hi=True)
    s.number("beta_end", 0.0, 1.0, SCHEDULE_DEFAULTS["beta_end"], below_hi=True)
