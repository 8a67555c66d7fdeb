"""The denoising objective and its conversions, shared by the image and video denoisers: what a
model predicts (the noise, epsilon, as in Ho et al. 2020, or the velocity v of Salimans & Ho 2022) and
the loss it is trained with (plain MSE, or min-SNR-gamma weighted, Hang et al. 2023). Samplers always
receive epsilon: ``to_eps`` converts. Shapes are any (N, ...): images or videos."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .schedule import NoiseSchedule

PREDICTIONS = ("epsilon", "v")


def _coefficients(schedule: NoiseSchedule, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t), shaped to broadcast over ``like``."""
    a = schedule.alphas_cumprod.to(like.device)[t].view(-1, *([1] * (like.dim() - 1)))
    return a.sqrt().to(like.dtype), (1 - a).sqrt().to(like.dtype)


def to_eps(output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, schedule: NoiseSchedule,
           prediction: str) -> torch.Tensor:
    """The noise implied by the model's output: v = sqrt(a) eps - sqrt(1-a) x0 gives
    eps = sqrt(a) v + sqrt(1-a) x_t."""
    if prediction == "epsilon":
        return output
    s, r = _coefficients(schedule, t, x_t)
    return s * output + r * x_t


def diffusion_loss(model: nn.Module, schedule: NoiseSchedule, x0: torch.Tensor, cond: torch.Tensor | None,
                   generator: torch.Generator | None = None, *, prediction: str = "epsilon",
                   min_snr_gamma: float = 0.0,
                   draw_noise: Callable[[tuple[int, ...], torch.Generator | None], torch.Tensor] | None = None
                   ) -> torch.Tensor:
    """MSE between the target (noise or velocity) and the prediction at a uniform timestep; with
    ``min_snr_gamma`` each timestep's term is weighted by min(SNR, gamma) / SNR (as an epsilon loss),
    which stops the easy low-noise steps from dominating (Hang et al. 2023). ``draw_noise(shape,
    generator)``: the noise prior (default: independent standard normal values)."""
    t = torch.randint(0, schedule.num_train_timesteps, (x0.shape[0],), device=x0.device, generator=generator)
    if draw_noise is None:
        noise = torch.randn(x0.shape, device=x0.device, generator=generator)
    else:
        noise = draw_noise(tuple(x0.shape), generator).to(x0.device)
    x_t = schedule.q_sample(x0, t, noise)
    out = model(x_t, t, cond).float()
    if prediction == "v":
        s, r = _coefficients(schedule, t, x0)
        target = s * noise - r * x0
    else:
        target = noise
    per_image = ((out - target) ** 2).flatten(1).mean(1)
    if min_snr_gamma > 0:
        a = schedule.alphas_cumprod.to(x0.device)[t].float()
        snr = a / (1 - a)
        # the v loss is (SNR + 1) times the epsilon loss's scale: divide by SNR + 1 instead of SNR
        weight = snr.clamp(max=min_snr_gamma) / (snr + 1 if prediction == "v" else snr)
        per_image = per_image * weight
    return per_image.mean()
