"""Bounds on a denoiser's config (the U-Net, its schedule, its text conditioning), checked before
anything is built; torch-free, so the registry checks a file while it lists it. The defaults are
UNetConfig's and ScheduleConfig's (a test keeps them equal)."""
from __future__ import annotations

from ..config_bounds import ConfigReader

UNET_DEFAULTS = {"in_channels": 1, "image_size": 28, "base_channels": 32, "channel_mult": (1, 2, 2),
                 "num_res_blocks": 1, "attention_levels": (2,), "cond_dim": 384, "emb_dim": 128, "dropout": 0.0,
                 "context_dim": 0}
SCHEDULES = ("cosine", "linear")  # the noise schedule kinds NoiseSchedule builds
SCHEDULE_DEFAULTS = {"num_train_timesteps": 1000, "kind": "cosine", "beta_start": 1e-4, "beta_end": 0.02}
MAX_ATTENTION_SIDE = 64  # self-attention over side^2 positions: 4096 of them at most



def check_context(r: ConfigReader, dflt: dict) -> None:
    cond = r.integer("cond_dim", 0, 4096, dflt["cond_dim"])
    context = r.integer("context_dim", 0, 4096, dflt["context_dim"])
    if context and context != cond:  # the packed condition carries one width for both (studio.core.prompt.packed)
        r.fail("context_dim", context, f"0 or equal to cond_dim ({cond})")


def check_unet(u: ConfigReader) -> None:
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
    check_context(u, dflt)
    u.integer("emb_dim", 2, 2048, dflt["emb_dim"], multiple_of=2)
    u.number("dropout", 0.0, 1.0, dflt["dropout"], below_hi=True)


def check_schedule(s: ConfigReader) -> None:
    s.known_keys(SCHEDULE_DEFAULTS)  # ScheduleConfig(**schedule) takes no others
    s.integer("num_train_timesteps", 1, 10_000, SCHEDULE_DEFAULTS["num_train_timesteps"])
    s.one_of("kind", SCHEDULES, SCHEDULE_DEFAULTS["kind"])
    s.number("beta_start", 0.0, 1.0, SCHEDULE_DEFAULTS["beta_start"], below_hi=True)
    s.number("beta_end", 0.0, 1.0, SCHEDULE_DEFAULTS["beta_end"], below_hi=True)
