"""The sampler maths: forward process statistics, DDIM/DDPM variances, exactness with an oracle."""
import math

import pytest
import torch

from studio.core.denoising.samplers import DDIMSampler, DDPMSampler, make_sampler
from studio.core.denoising.schedule import NoiseSchedule, ScheduleConfig

SCHEDULES = [NoiseSchedule(ScheduleConfig(kind="cosine")), NoiseSchedule(ScheduleConfig(kind="linear"))]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=["cosine", "linear"])
def test_q_sample_has_the_marginal_statistics(schedule):
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((200_000, 1), 0.7)
    for t in (0, 250, 999):
        noise = torch.randn(x0.shape, generator=g)
        xt = schedule.q_sample(x0, torch.full((len(x0),), t), noise)
        a = schedule.alpha_bar(t)
        assert xt.mean().item() == pytest.approx(math.sqrt(a) * 0.7, abs=0.01)
        assert xt.var().item() == pytest.approx(1 - a, rel=0.02, abs=1e-4)


def test_schedule_is_a_decreasing_signal_level():
    for s in SCHEDULES:
        ab = s.alphas_cumprod
        assert torch.all(ab[1:] < ab[:-1])
        assert ab[0] > 0.99 and ab[-1] < 0.01


@pytest.mark.parametrize("steps", [1, 7, 50, 1000])
def test_ddim_with_eta_one_has_the_ddpm_posterior_variance(steps):
    schedule = SCHEDULES[0]
    ddpm, ddim = DDPMSampler(schedule), DDIMSampler(schedule, eta=1.0)
    ddpm.set_timesteps(steps)
    ddim.set_timesteps(steps)
    assert ddpm.timesteps == ddim.timesteps
    for i in range(steps):
        # beta_tilde = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev), computed independently here
        a_t = schedule.alpha_bar(ddpm.timesteps[i])
        a_prev = schedule.alpha_bar(ddpm.timesteps[i + 1]) if i + 1 < steps else 1.0
        beta_tilde = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
        assert ddpm.variance(i) == pytest.approx(beta_tilde, rel=1e-9, abs=1e-15)
        assert ddim.variance(i) == pytest.approx(ddpm.variance(i), rel=1e-9, abs=1e-15)
    deterministic = DDIMSampler(schedule, eta=0.0)
    deterministic.set_timesteps(steps)
    assert deterministic.variance(0) == 0.0


def test_timesteps_are_descending_and_bounded():
    s = make_sampler("ddim", SCHEDULES[0])
    for n in (1, 7, 25, 999, 1000):
        s.set_timesteps(n)
        assert len(s.timesteps) == n and s.timesteps[0] == 999 and s.timesteps[-1] >= 0
        assert all(a > b for a, b in zip(s.timesteps, s.timesteps[1:]))
        assert s.prev_timestep(n - 1) == -1, "the last step goes to the clean image"
    s.set_timesteps(1000)
    assert s.timesteps == list(range(999, -1, -1))
    with pytest.raises(ValueError):
        s.set_timesteps(0)
    with pytest.raises(ValueError):
        s.set_timesteps(1001)
    with pytest.raises(ValueError, match="unknown sampler"):
        make_sampler("lms", SCHEDULES[0])


@pytest.mark.parametrize("name,eta", [("ddpm", 0.0), ("ddim", 0.0), ("ddim", 1.0), ("dpm++2m", 0.0)])
@pytest.mark.parametrize("steps", [1, 10, 100])
def test_oracle_denoiser_recovers_the_data_point(name, eta, steps):
    """With data concentrated on one image x*, the exact noise prediction is (x - sqrt(a) x*) / sqrt(1 - a);
    every sampler must then land on x* whatever the noise."""
    schedule = SCHEDULES[0]
    sampler = make_sampler(name, schedule, eta)
    sampler.set_timesteps(steps)
    g = torch.Generator().manual_seed(1)
    target = torch.rand((2, 1, 6, 6), generator=g) * 1.6 - 0.8
    x = torch.randn(target.shape, generator=g)
    for i, t in enumerate(sampler.timesteps):
        a = schedule.alpha_bar(t)
        eps = (x - math.sqrt(a) * target) / math.sqrt(1 - a)
        out = sampler.step(eps, i, x, torch.randn(target.shape, generator=g))
        # float32 round-off is amplified by 1/sqrt(alpha_bar) at the noisiest steps
        assert torch.allclose(out.pred_x0, target, atol=5e-3)
        x = out.prev_sample
    assert torch.allclose(x, target, atol=5e-3 if steps == 1 else 1e-4)


def test_ddpm_step_needs_noise_except_at_the_end():
    s = DDPMSampler(SCHEDULES[0])
    s.set_timesteps(3)
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError):
        s.step(torch.zeros_like(x), 0, x)
    s.step(torch.zeros_like(x), 2, x)  # the last step adds no noise


def test_dpm_solver_is_second_order_where_ddim_is_first():
    """For Gaussian data N(mu, s2) both the exact noise prediction and the exact probability-flow ODE
    solution are known in closed form (z = (x_t - sqrt(a) mu) / sqrt(a s2 + 1 - a) is constant along
    the flow). DDIM's error must shrink like 1/steps, DPM-Solver++(2M)'s like 1/steps^2."""
    schedule = SCHEDULES[0]
    mu, s2 = 0.3, 0.04

    def error(name, steps):
        sampler = make_sampler(name, schedule)
        sampler.set_timesteps(steps)
        start = torch.linspace(-2, 2, 9, dtype=torch.float64)
        x = start.clone()
        for i, t in enumerate(sampler.timesteps):
            a = schedule.alpha_bar(t)
            eps = math.sqrt(1 - a) * (x - math.sqrt(a) * mu) / (a * s2 + 1 - a)
            x = sampler.step(eps, i, x, clip=False).prev_sample
        a_T = schedule.alpha_bar(sampler.timesteps[0])
        exact = mu + math.sqrt(s2) * (start - math.sqrt(a_T) * mu) / math.sqrt(a_T * s2 + 1 - a_T)
        return (x - exact).abs().max().item()

    ddim_rate = error("ddim", 20) / error("ddim", 50)
    dpm_rate = error("dpm++2m", 20) / error("dpm++2m", 50)
    assert 2.0 < ddim_rate < 3.2, ddim_rate  # first order: (50/20)^1 = 2.5
    assert dpm_rate > 5.0, dpm_rate  # second order: (50/20)^2 = 6.25
    assert error("dpm++2m", 50) < 0.3 * error("ddim", 50)
