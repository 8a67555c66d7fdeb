"""The diffusion model as a checkpoint describes it: a U-Net denoiser and its noise schedule, and the
DDPM objective it is trained with (Ho et al. 2020)."""
from __future__ import annotations

import torch

from .schedule import NoiseSchedule, ScheduleConfig
from .unet import UNet, UNetConfig


def build(config: dict) -> tuple[UNet, NoiseSchedule]:
    unet_cfg = UNetConfig.from_dict(config.get("unet", {}))
    schedule = NoiseSchedule(ScheduleConfig(**config.get("schedule", {})))
    return UNet(unet_cfg), schedule


def diffusion_loss(model: UNet, schedule: NoiseSchedule, x0: torch.Tensor, cond: torch.Tensor | None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Simple DDPM objective: MSE between the true and the predicted noise at a uniform timestep."""
    t = torch.randint(0, schedule.num_train_timesteps, (x0.shape[0],), device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, generator=generator)
    eps = model(schedule.q_sample(x0, t, noise), t, cond)
    return torch.nn.functional.mse_loss(eps.float(), noise)
