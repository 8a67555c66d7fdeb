"""Bounds on a video diffusion checkpoint's config, checked before the U-Net is built (torch-free, so
the registry checks a file while it lists it). The U-Net and schedule are bounded as the image
denoiser's are; the video section's defaults are VideoConfig's (a test keeps them equal)."""
from __future__ import annotations

from ...config_bounds import ConfigReader
from ...denoising.bounds import check_schedule, check_unet

VIDEO_DEFAULTS = {"frames": 16, "temporal_levels": (1, 2), "heads": 4, "conditioning_frames": True}
MAX_FRAMES = 64


def check_config(config: dict) -> None:
    top = ConfigReader(config, "video")
    top.one_of("arch", ("video-unet",), "video-unet")
    top.one_of("prediction", ("epsilon", "v"), "epsilon")
    unet = top.section("unet", required=True)
    check_unet(unet)
    if unet.d.get("in_channels", 1) not in (1, 3):
        unet.fail("in_channels", unet.d["in_channels"], "1 or 3 (a video model works on pixels)")
    check_schedule(top.section("schedule"))
    v = top.section("video", required=True)
    v.integer("frames", 1, MAX_FRAMES, VIDEO_DEFAULTS["frames"])
    levels = len(unet.d.get("channel_mult", (1, 2, 2)))
    v.int_list("temporal_levels", 0, levels - 1, VIDEO_DEFAULTS["temporal_levels"], max_len=levels)
    v.one_of("heads", (1, 2, 4, 8), VIDEO_DEFAULTS["heads"])  # every U-Net width is a multiple of 8
    top.section("noise").number("shared", 0.0, 1.0, 0.0, below_hi=True)
    given = v.d.get("conditioning_frames", VIDEO_DEFAULTS["conditioning_frames"])
    if type(given) is not bool:
        v.fail("conditioning_frames", given, "true or false")
