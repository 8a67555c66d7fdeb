"""Reverse-process samplers with a diffusers-like interface.

Each sampler is told how many steps to take (``set_timesteps``) and then called once per step with
the model's noise prediction: ``step(eps, i, x_t, noise) -> StepOutput(prev_sample, pred_x0)``.
The predicted clean image is what the live preview shows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .schedule import NoiseSchedule


@dataclass
class StepOutput:
    prev_sample: torch.Tensor
    pred_x0: torch.Tensor


class Sampler:
    name = "base"
    stochastic = True

    def __init__(self, schedule: NoiseSchedule) -> None:
        self.schedule = schedule
        self.timesteps: list[int] = []

    def set_timesteps(self, num_steps: int) -> None:
        """Evenly spaced timesteps that start at T-1 ("trailing" spacing, Lin et al. 2024); after the
        last one the sampler steps to the clean image, so no step is spent on t=0 for short runs."""
        n_train = self.schedule.num_train_timesteps
        if not 1 <= num_steps <= n_train:
            raise ValueError(f"steps must be between 1 and {n_train}, got {num_steps}")
        stride = n_train / num_steps
        self.timesteps = [int(round(n_train - k * stride)) - 1 for k in range(num_steps)]

    def prev_timestep(self, i: int) -> int:
        return self.timesteps[i + 1] if i + 1 < len(self.timesteps) else -1

    def _alphas(self, i: int) -> tuple[float, float]:
        return self.schedule.alpha_bar(self.timesteps[i]), self.schedule.alpha_bar(self.prev_timestep(i))

    def posterior_variance(self, i: int) -> float:
        """Variance of q(x_{t_prev} | x_t, x_0) for the respaced step i (DDPM eq. 7)."""
        a_t, a_prev = self._alphas(i)
        beta = 1 - a_t / a_prev
        return (1 - a_prev) / (1 - a_t) * beta

    def variance(self, i: int) -> float:
        raise NotImplementedError

    @staticmethod
    def predict_x0(eps: torch.Tensor, x: torch.Tensor, a_t: float, clip: bool) -> torch.Tensor:
        x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        return x0.clamp(-1, 1) if clip else x0

    def step(self, eps: torch.Tensor, i: int, x: torch.Tensor, noise: torch.Tensor | None = None,
             clip: bool = True) -> StepOutput:
        raise NotImplementedError


class DDPMSampler(Sampler):
    """Ancestral sampling of Ho et al. 2020 (Algorithm 2), on respaced timesteps."""

    name = "ddpm"

    def variance(self, i: int) -> float:
        return self.posterior_variance(i)

    def step(self, eps, i, x, noise=None, clip=True):
        a_t, a_prev = self._alphas(i)
        beta = 1 - a_t / a_prev
        x0 = self.predict_x0(eps, x, a_t, clip)
        mean = (math.sqrt(a_prev) * beta / (1 - a_t)) * x0 + (math.sqrt(1 - beta) * (1 - a_prev) / (1 - a_t)) * x
        var = self.variance(i)
        if self.prev_timestep(i) >= 0 and var > 0:
            if noise is None:
                raise ValueError("DDPM needs noise for every step but the last")
            mean = mean + math.sqrt(var) * noise
        return StepOutput(mean, x0)


class DDIMSampler(Sampler):
    """Denoising diffusion implicit models, Song et al. 2021 (eq. 12); eta=0 is deterministic,
    eta=1 has the DDPM posterior variance."""

    name = "ddim"

    def __init__(self, schedule: NoiseSchedule, eta: float = 0.0) -> None:
        super().__init__(schedule)
        self.eta = eta
        self.stochastic = eta > 0

    def variance(self, i: int) -> float:
        return self.eta**2 * self.posterior_variance(i)

    def step(self, eps, i, x, noise=None, clip=True):
        a_t, a_prev = self._alphas(i)
        x0 = self.predict_x0(eps, x, a_t, clip)
        if clip:  # keep eps consistent with the clipped x0, as the DDIM reference code does
            eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
        var = self.variance(i)
        prev = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - var, 0.0)) * eps
        if var > 0 and self.prev_timestep(i) >= 0:
            if noise is None:
                raise ValueError("DDIM with eta > 0 needs noise")
            prev = prev + math.sqrt(var) * noise
        return StepOutput(prev, x0)


class DPMSolverPP2MSampler(Sampler):
    """DPM-Solver++(2M), Lu et al. 2022 (Algorithm 2): a deterministic second-order multistep solver
    in data prediction, good in 15-25 steps. Keeps the previous x0 prediction between steps."""

    name = "dpm++2m"
    stochastic = False

    def __init__(self, schedule: NoiseSchedule) -> None:
        super().__init__(schedule)
        self._prev_x0: torch.Tensor | None = None
        self._prev_h: float | None = None

    def set_timesteps(self, num_steps: int) -> None:
        super().set_timesteps(num_steps)
        self._prev_x0: torch.Tensor | None = None
        self._prev_h: float | None = None

    def variance(self, i: int) -> float:
        return 0.0

    @staticmethod
    def _lambda(a: float) -> float:  # half log-SNR: log(alpha / sigma)
        return 0.5 * math.log(a / (1 - a))

    def step(self, eps, i, x, noise=None, clip=True):
        a_t, a_prev = self._alphas(i)
        x0 = self.predict_x0(eps, x, a_t, clip)
        if a_prev >= 1.0:  # the last step lands on the data prediction itself
            return StepOutput(x0, x0)
        h = self._lambda(a_prev) - self._lambda(a_t)
        d = x0
        if self._prev_x0 is not None and self._prev_h is not None:
            r = self._prev_h / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * self._prev_x0
        sigma_ratio = math.sqrt((1 - a_prev) / (1 - a_t))
        prev = sigma_ratio * x - math.sqrt(a_prev) * math.expm1(-h) * d
        self._prev_x0, self._prev_h = x0, h
        return StepOutput(prev, x0)


SAMPLERS = {"ddim": DDIMSampler, "ddpm": DDPMSampler, "dpm++2m": DPMSolverPP2MSampler}


def make_sampler(name: str, schedule: NoiseSchedule, eta: float = 0.0) -> Sampler:
    key = name.lower()
    if key not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return DDIMSampler(schedule, eta) if key == "ddim" else SAMPLERS[key](schedule)
