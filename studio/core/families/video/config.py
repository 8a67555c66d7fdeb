"""Bounds on a video diffusion checkpoint's config, checked before the U-Net is built (torch-free, so
the registry checks a file while it lists it). The U-Net and schedule are bounded as the image
denoiser's are; the video section's defaults are VideoConfig's (a test keeps them equal)."""
from __future__ import annotations

from ...config_bounds import ConfigReader
from ...denoising.bounds import check_schedule, check_unet

VIDEO_DEFAULTS = {"frames": 16, "temporal_levels": (1, 2), "heads": 4, "conditioning_frames": True,
                  "joint_levels": ()}
MAX_FRAMES = 64
MAX_JOINT_TOKENS = 4096  # frames x positions one space-time attention attends over (its memory grows as the square)


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
    frames = v.integer("frames", 1, MAX_FRAMES, VIDEO_DEFAULTS["frames"])
    levels = len(unet.d.get("channel_mult", (1, 2, 2)))
    v.int_list("temporal_levels", 0, levels - 1, VIDEO_DEFAULTS["temporal_levels"], max_len=levels)
    side = [unet.d.get("image_size", 32)]  # the feature map's side at each level, as the U-Net rounds it
    while len(side) < levels:
        side.append((side[-1] + 1) // 2)
    for level in v.int_list("joint_levels", 0, levels - 1, VIDEO_DEFAULTS["joint_levels"], max_len=levels):
        if frames * side[level] ** 2 > MAX_JOINT_TOKENS:
            v.fail("joint_levels", list(v.d["joint_levels"]), f"levels where frames x positions is at most "
                                                              f"{MAX_JOINT_TOKENS} (level {level} has "
                                                              f"{frames * side[level] ** 2})")
    v.one_of("heads", (1, 2, 4, 8), VIDEO_DEFAULTS["heads"])  # every U-Net width is a multiple of 8
    top.section("noise").number("shared", 0.0, 1.0, 0.0, below_hi=True)
    given = v.d.get("conditioning_frames", VIDEO_DEFAULTS["conditioning_frames"])
    if type(given) is not bool:
        v.fail("conditioning_frames", given, "true or false")
