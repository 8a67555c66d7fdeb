"""The diffusion model as a checkpoint describes it: a denoiser (a U-Net, or a DiT with ``"arch":
"dit"``) and its noise schedule. The objective (epsilon or v, min-SNR weighting) is studio.core.denoising's."""
from __future__ import annotations

from torch import nn

from ...denoising.objective import PREDICTIONS, diffusion_loss, to_eps
from ...denoising.schedule import NoiseSchedule, ScheduleConfig
from ...denoising.unet import UNet, UNetConfig

ARCHS = ("unet", "dit")


def build(config: dict) -> tuple[nn.Module, NoiseSchedule]:
    schedule = NoiseSchedule(ScheduleConfig(**config.get("schedule", {})))
    if config.get("arch", "unet") == "dit":
        from .dit import DiT, DiTConfig

        return DiT(DiTConfig.from_dict(config.get("dit", {}))), schedule
    return UNet(UNetConfig.from_dict(config.get("unet", {}))), schedule


__all__ = ["ARCHS", "PREDICTIONS", "build", "diffusion_loss", "to_eps"]
