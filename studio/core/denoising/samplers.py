"""Reverse-process samplers with a diffusers-like interface.

Each sampler is told how many steps to take (``set_timesteps``) and then called once per step with
the model's noise prediction at ``timesteps[i]``: ``step(eps, i, x_t, noise, model=...) ->
StepOutput(prev_sample, pred_x0)``. A sampler that needs more than one evaluation per step (Heun)
calls ``model(x, t)`` for the others; ``evaluations(i)`` says how many a step takes. ``x`` is always
what the model reads (the variance-preserving x_t), so the loop is the same for every sampler, and
``add_noise(x0, i, noise)`` makes the x_t that step i starts from (image-to-image).
The predicted clean image is what the live preview shows.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .schedule import NoiseSchedule


@dataclass
class StepOutput:
    prev_sample: torch.Tensor
    pred_x0: torch.Tensor


EpsModel = Callable[[torch.Tensor, int], torch.Tensor]  # (x_t, timestep) -> the (guided) noise prediction


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

    def evaluations(self, i: int) -> int:
        """Model evaluations step i takes (the loop's one included)."""
        return 1

    def add_noise(self, x0: torch.Tensor, i: int, noise: torch.Tensor) -> torch.Tensor:
        """The x_t step i starts from, for a clean image x0 (SDEdit's starting point)."""
        t = torch.full((x0.shape[0],), self.timesteps[i], dtype=torch.long, device=x0.device)
        return self.schedule.q_sample(x0, t, noise)

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
             clip: bool = True, model: EpsModel | None = None) -> StepOutput:
        raise NotImplementedError


class DDPMSampler(Sampler):
    """Ancestral sampling of Ho et al. 2020 (Algorithm 2), on respaced timesteps."""

    name = "ddpm"

    def variance(self, i: int) -> float:
        return self.posterior_variance(i)

    def step(self, eps, i, x, noise=None, clip=True, model=None):
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

    def step(self, eps, i, x, noise=None, clip=True, model=None):
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

    def step(self, eps, i, x, noise=None, clip=True, model=None):
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


def karras_sigmas(num_steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> list[float]:
    """Karras et al. 2022, eq. 5: sigma_max to sigma_min evenly spaced in sigma^(1/rho), then 0."""
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    ramp = [k / (num_steps - 1) for k in range(num_steps)] if num_steps > 1 else [0.0]
    return [(hi + r * (lo - hi)) ** rho for r in ramp] + [0.0]


class KarrasSampler(Sampler):
    """Base of the samplers that step in sigma = sqrt((1 - a_bar) / a_bar) on Karras sigmas (rho 7,
    sigma_min/max of the trained schedule). They solve the probability-flow ODE of the variance-
    exploding x_sigma = x_t / sqrt(a_bar) = x0 + sigma * eps; the model reads x_t = x_sigma /
    sqrt(1 + sigma^2) at the discrete timestep nearest in log sigma (k-diffusion's
    DiscreteEpsDDPMDenoiser with quantize=True), so ``x`` in and out stays x_t as for DDIM.
    The cosine schedule's last timestep has sigma ~ 2e4, so at few steps several of them go to noise
    levels where the image is all noise; ``sigma_max`` (measurement only) starts lower."""

    stochastic = False

    def __init__(self, schedule: NoiseSchedule, sigma_max: float | None = None) -> None:
        super().__init__(schedule)
        a = schedule.alphas_cumprod
        self.log_sigmas = (((1 - a) / a).sqrt()).log()  # float64, increasing with t
        self.sigma_max = float(self.log_sigmas[-1].exp()) if sigma_max is None else sigma_max
        self.sigma_min = float(self.log_sigmas[0].exp())
        self.sigmas: list[float] = []

    def set_timesteps(self, num_steps: int) -> None:
        super().set_timesteps(num_steps)  # validates the count
        self.sigmas = karras_sigmas(num_steps, self.sigma_min, self.sigma_max)
        self.timesteps = [self.sigma_to_t(s) for s in self.sigmas[:-1]]
        self._reset()

    def _reset(self) -> None:
        pass

    def sigma_to_t(self, sigma: float) -> int:
        return int((self.log_sigmas - math.log(sigma)).abs().argmin())

    def variance(self, i: int) -> float:
        return 0.0

    def add_noise(self, x0, i, noise):
        s = self.sigmas[i]
        return (x0 + s * noise) / math.sqrt(1 + s * s)

    def denoise(self, eps: torch.Tensor, x_t: torch.Tensor, sigma: float, clip: bool
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_sigma, x0) from the model's noise prediction at x_t."""
        xs = x_t * math.sqrt(1 + sigma * sigma)
        x0 = xs - sigma * eps
        return xs, (x0.clamp(-1, 1) if clip else x0)

    @staticmethod
    def to_model(xs: torch.Tensor, sigma: float) -> torch.Tensor:
        return xs / math.sqrt(1 + sigma * sigma)


class EulerSampler(KarrasSampler):
    """Euler's method on the probability-flow ODE dx/dsigma = (x - x0) / sigma (Karras et al. 2022,
    Algorithm 1 with the Euler step only); first order, one evaluation per step."""

    name = "euler"

    def step(self, eps, i, x, noise=None, clip=True, model=None):
        s, s_next = self.sigmas[i], self.sigmas[i + 1]
        xs, x0 = self.denoise(eps, x, s, clip)
        xs = xs + (s_next - s) * (xs - x0) / s
        return StepOutput(self.to_model(xs, s_next), x0)


class HeunSampler(KarrasSampler):
    """Heun's second-order method (Karras et al. 2022, Algorithm 1, deterministic: gamma = 0): an Euler
    step, then the slope at its end averaged with the first. Two evaluations per step, except the last,
    which goes to sigma = 0 by Euler (the slope there is undefined)."""

    name = "heun"

    def evaluations(self, i: int) -> int:
        return 1 if self.sigmas[i + 1] == 0 else 2

    def step(self, eps, i, x, noise=None, clip=True, model=None):
        s, s_next = self.sigmas[i], self.sigmas[i + 1]
        xs, x0 = self.denoise(eps, x, s, clip)
        d = (xs - x0) / s
        euler = xs + (s_next - s) * d
        if s_next == 0:
            return StepOutput(euler, x0)
        if model is None:
            raise ValueError("Heun needs the model for its second evaluation")
        x_mid = self.to_model(euler, s_next)
        _, x0_next = self.denoise(model(x_mid, self.timesteps[i + 1]), x_mid, s_next, clip)
        d_next = (euler - x0_next) / s_next
        xs = xs + (s_next - s) * (d + d_next) / 2
        return StepOutput(self.to_model(xs, s_next), x0_next)


class DPMSolverPP2MKarrasSampler(KarrasSampler):
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) on Karras sigmas, as k-diffusion's
    sample_dpmpp_2m and diffusers' DPMSolverMultistepScheduler(algorithm_type="dpmsolver++",
    solver_order=2, use_karras_sigmas=True). In lambda = -log sigma the VE update is
    x' = (sigma'/sigma) x - expm1(-h) D, with D the second-order combination of the last two x0
    predictions; the first step and the last (to sigma = 0) are first order."""

    name = "dpm++2m-karras"

    def _reset(self) -> None:
        self._prev_x0: torch.Tensor | None = None

    def step(self, eps, i, x, noise=None, clip=True, model=None):
        s, s_next = self.sigmas[i], self.sigmas[i + 1]
        xs, x0 = self.denoise(eps, x, s, clip)
        if s_next == 0:
            return StepOutput(x0, x0)
        h = math.log(s / s_next)
        d = x0
        if i > 0 and self._prev_x0 is not None:
            r = math.log(self.sigmas[i - 1] / s) / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * self._prev_x0
        self._prev_x0 = x0
        xs = (s_next / s) * xs - math.expm1(-h) * d
        return StepOutput(self.to_model(xs, s_next), x0)


SAMPLERS = {"ddim": DDIMSampler, "ddpm": DDPMSampler, "dpm++2m": DPMSolverPP2MSampler,
            "euler": EulerSampler, "heun": HeunSampler, "dpm++2m-karras": DPMSolverPP2MKarrasSampler}


def noise_level(sampler: Sampler, i: int) -> float:
    """The sigma (sqrt((1 - a_bar) / a_bar)) of the x_t that step i of ``sampler`` starts from."""
    if isinstance(sampler, KarrasSampler):
        return sampler.sigmas[i]
    a = float(sampler.schedule.alphas_cumprod[sampler.timesteps[i]])
    return math.sqrt((1 - a) / a)


def continuing(name: str, schedule: NoiseSchedule, sigma: float, steps: int, eta: float = 0.0) -> Sampler:
    """A sampler ``name`` that takes ``steps`` steps from noise level ``sigma`` down to the image: the
    rest of a run whose sampler is changed mid-way (the step debugger). A Karras sampler starts its
    sigmas there; the others space their timesteps evenly from the nearest timestep (trailing, as
    ``set_timesteps`` does from T)."""
    if SAMPLERS.get(name.lower()) and issubclass(SAMPLERS[name.lower()], KarrasSampler):
        sampler = make_sampler(name, schedule, eta, sigma_max=sigma)
        sampler.set_timesteps(steps)
        return sampler
    sampler = make_sampler(name, schedule, eta)
    sampler.set_timesteps(steps)  # validates the count and resets any multistep history
    a = schedule.alphas_cumprod.double()
    top = int((((1 - a) / a).sqrt().log() - math.log(sigma)).abs().argmin()) + 1  # timesteps 0 .. top - 1
    sampler.timesteps = [int(round(top - k * top / steps)) - 1 for k in range(steps)]
    return sampler


def make_sampler(name: str, schedule: NoiseSchedule, eta: float = 0.0, sigma_max: float | None = None) -> Sampler:
    """``eta``: DDIM's stochasticity; ``sigma_max``: where Karras sigmas start (default: the schedule's)."""
    key = name.lower()
    if key not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    if key == "ddim":
        return DDIMSampler(schedule, eta)
    cls = SAMPLERS[key]
    return cls(schedule, sigma_max) if issubclass(cls, KarrasSampler) else cls(schedule)
