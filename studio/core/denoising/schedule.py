"""Forward (noising) process of DDPM: the variance schedule and q(x_t | x_0)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ScheduleConfig:
    num_train_timesteps: int = 1000
    # "cosine" (Nichol & Dhariwal 2021), "linear" (Ho et al. 2020) or "scaled_linear" (Stable Diffusion:
    # linear in sqrt(beta), as diffusers' beta_schedule of that name)
    kind: str = "cosine"
    beta_start: float = 1e-4
    beta_end: float = 0.02


class NoiseSchedule:
    """Holds beta_t and the cumulative products alpha_bar_t (float64 for exact sampler maths)."""

    def __init__(self, config: ScheduleConfig = ScheduleConfig()) -> None:
        self.config = config
        n = config.num_train_timesteps
        if config.kind == "linear":
            betas = torch.linspace(config.beta_start, config.beta_end, n, dtype=torch.float64)
        elif config.kind == "scaled_linear":
            betas = torch.linspace(config.beta_start**0.5, config.beta_end**0.5, n, dtype=torch.float64) ** 2
        elif config.kind == "cosine":
            s = 0.008
            steps = torch.arange(n + 1, dtype=torch.float64) / n
            f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
            betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
        else:
            raise ValueError(f"unknown schedule kind {config.kind!r}; use 'cosine', 'linear' or 'scaled_linear'")
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)

    @property
    def num_train_timesteps(self) -> int:
        return self.config.num_train_timesteps

    def alpha_bar(self, t: int) -> float:
        """alpha_bar at timestep t; t = -1 means the clean image (alpha_bar = 1)."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Sample x_t ~ q(x_t | x_0) = N(sqrt(a_bar) x_0, (1 - a_bar) I) for a batch of timesteps."""
        a = self.alphas_cumprod.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
        return a.sqrt() * x0 + (1 - a).sqrt() * noise
