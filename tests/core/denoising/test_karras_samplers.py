"""Euler, Heun and DPM-Solver++(2M) on Karras sigmas: the sigma grid, their convergence on Gaussian
data with the exact denoiser, and the family's loop with them (preview, seeds, PNGs, img2img)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from studio.cli import main
from studio.core.catalog import CATALOG
from studio.core.denoising.samplers import KarrasSampler, make_sampler
from studio.core.denoising.schedule import NoiseSchedule, ScheduleConfig
from studio.store.inputs import store_input
from studio.store.pngmeta import read_settings
from studio.store.registry import load_model

KARRAS = ["euler", "heun", "dpm++2m-karras"]
SCHEDULE = NoiseSchedule(ScheduleConfig(kind="cosine"))


def test_every_catalog_sampler_is_implemented_and_the_karras_ones_are_listed():
    samplers = CATALOG["diffusion"].samplers
    assert set(KARRAS) <= set(samplers)
    for name in samplers:
        assert make_sampler(name, SCHEDULE).name == name


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(1, 1000), kind=st.sampled_from(["cosine", "linear"]))
def test_karras_sigmas_span_the_trained_schedule(steps, kind):
    schedule = NoiseSchedule(ScheduleConfig(kind=kind))
    s = make_sampler("euler", schedule)
    s.set_timesteps(steps)
    a = schedule.alphas_cumprod
    sigma_max, sigma_min = math.sqrt((1 - a[-1]) / a[-1]), math.sqrt((1 - a[0]) / a[0])
    assert len(s.sigmas) == steps + 1 and s.sigmas[-1] == 0.0
    assert s.sigmas[0] == pytest.approx(sigma_max, rel=1e-9)
    if steps > 1:
        assert s.sigmas[-2] == pytest.approx(sigma_min, rel=1e-9)
        roots = [x ** (1 / 7) for x in s.sigmas[:-1]]  # rho = 7: evenly spaced in sigma^(1/7)
        gaps = [p - q for p, q in zip(roots, roots[1:])]
        assert max(gaps) == pytest.approx(min(gaps), rel=1e-6)
    assert all(p > q for p, q in zip(s.sigmas, s.sigmas[1:]))
    # the discrete timestep the model reads is the one nearest in log sigma, descending from T-1
    assert len(s.timesteps) == steps and s.timesteps[0] == schedule.num_train_timesteps - 1
    assert all(0 <= t < schedule.num_train_timesteps for t in s.timesteps)
    assert all(p >= q for p, q in zip(s.timesteps, s.timesteps[1:]))
    log_sigmas = ((1 - a) / a).sqrt().log()
    for sigma, t in zip(s.sigmas, s.timesteps):
        assert abs(log_sigmas[t] - math.log(sigma)) == (log_sigmas - math.log(sigma)).abs().min()


def test_heun_says_it_evaluates_twice_except_at_the_end_and_needs_the_model():
    s = make_sampler("heun", SCHEDULE)
    s.set_timesteps(4)
    assert [s.evaluations(i) for i in range(4)] == [2, 2, 2, 1]
    assert all(make_sampler(n, SCHEDULE).evaluations(0) == 1 for n in ("ddim", "euler", "dpm++2m-karras"))
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="needs the model"):
        s.step(torch.zeros_like(x), 0, x)


MU, S2 = 0.3, 0.25  # Gaussian data N(MU, S2): the exact noise prediction is known in closed form


def gaussian_eps(schedule: NoiseSchedule):
    def model(x: torch.Tensor, t: int) -> torch.Tensor:
        a = schedule.alpha_bar(t)
        return math.sqrt(1 - a) * (x - math.sqrt(a) * MU) / (a * S2 + 1 - a)
    return model


def sample(name: str, steps: int, x: torch.Tensor, noise_seed: int = 1) -> torch.Tensor:
    s = make_sampler(name, SCHEDULE)
    s.set_timesteps(steps)
    model, g = gaussian_eps(SCHEDULE), torch.Generator().manual_seed(noise_seed)
    for i, t in enumerate(s.timesteps):
        noise = torch.randn(x.shape, generator=g, dtype=x.dtype)
        x = s.step(model(x, t), i, x, noise, clip=False, model=model).prev_sample
    return x


@pytest.mark.parametrize("name", ["ddim", "ddpm", "dpm++2m", *KARRAS])
def test_every_sampler_draws_the_gaussian_data_distribution(name):
    x = torch.randn(8000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for steps, std_tol in ((50, 0.08), (200, 0.025)):
        out = sample(name, steps, x)
        assert out.mean().item() == pytest.approx(MU, abs=0.02), steps
        assert out.std().item() == pytest.approx(math.sqrt(S2), abs=std_tol), steps


def test_euler_is_first_order_and_heun_and_dpm_solver_second():
    """Deterministic samplers solve the probability-flow ODE, whose solution for Gaussian data is
    exact in closed form: x_sigma - MU scales with sqrt(S2 + sigma^2). From 50 to 200 steps Euler's
    error must shrink about 4x, Heun's and DPM-Solver++(2M)'s about 16x."""
    start = torch.linspace(-2, 2, 9, dtype=torch.float64)

    def error(name, steps):
        s = make_sampler(name, SCHEDULE)
        assert isinstance(s, KarrasSampler)
        sigma = s.sigma_max
        exact = MU + math.sqrt(S2) * (start * math.sqrt(1 + sigma**2) - MU) / math.sqrt(S2 + sigma**2)
        return (sample(name, steps, start) - exact).abs().max().item()

    euler = error("euler", 50) / error("euler", 200)
    assert 2.5 < euler < 6, euler
    for name in ("heun", "dpm++2m-karras"):
        rate = error(name, 50) / error(name, 200)
        assert rate > 10, (name, rate)
        assert error(name, 200) < 0.25 * error("euler", 200)


@pytest.mark.parametrize("name", KARRAS)
def test_the_family_samples_with_each_with_previews_seeds_and_pngs(tiny_ckpt, tmp_path, name):
    model = load_model("tiny-diffusion")
    req = model.default_request().with_(prompt="a coat", sampler=name, steps=4, seed=5, batch_size=2)
    frames = list(model.sample(req))
    assert [f.step for f in frames] == [1, 2, 3, 4] and frames[-1].final
    # each step shows its clean guess (an untrained model's first guesses at sigma ~ 2e4 clip alike)
    assert len({f.preview.tobytes() for f in frames}) >= 2
    a = model.generate(req)
    assert np.array_equal(a, frames[-1].preview) and np.array_equal(a, model.generate(req))
    assert not np.array_equal(a, model.generate(req.with_(seed=6)))
    assert not np.array_equal(a, model.generate(req.with_(sampler="ddim")))
    out = tmp_path / "k.png"
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--prompt", "a coat", "--sampler", name,
                 "--steps", "4", "--seed", "9", "--out", str(out), "--quiet"]) == 0
    again, _ = read_settings(out)
    assert again.sampler == name
    assert np.array_equal(model.generate(again)[0][..., 0], np.asarray(Image.open(out)))


@pytest.mark.parametrize("name", KARRAS)
def test_img2img_starts_part_way_down_the_sigmas(tiny_ckpt, name):
    model = load_model("tiny-diffusion")
    img = (np.random.default_rng(0).random((12, 12, 1)) * 255).astype(np.uint8)
    req = model.default_request().with_(prompt="a coat", init_image=store_input(img), steps=10, seed=3,
                                        sampler=name)
    frames = list(model.sample(req.with_(strength=0.0), init=img))
    assert len(frames) == 1 and np.array_equal(frames[0].preview[0], img)
    assert len(list(model.sample(req.with_(strength=0.3), init=img))) == 3
    low = model.generate(req.with_(strength=0.2), init=img)
    high = model.generate(req.with_(strength=0.9), init=img)
    assert np.array_equal(low, model.generate(req.with_(strength=0.2), init=img))
    d = [np.abs(x[0].astype(int) - img).mean() for x in (low, high)]
    assert d[0] < d[1], "less strength keeps more of the input"


def test_karras_add_noise_has_the_marginal_of_its_sigma():
    s = make_sampler("euler", SCHEDULE)
    s.set_timesteps(10)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((100_000,), 0.5)
    for i in (0, 4, 9):
        x = s.add_noise(x0, i, torch.randn(x0.shape, generator=g))
        a = 1 / (1 + s.sigmas[i] ** 2)  # x_t = sqrt(a) x0 + sqrt(1 - a) eps at alpha_bar = 1 / (1 + sigma^2)
        assert x.mean().item() == pytest.approx(math.sqrt(a) * 0.5, abs=0.01)
        assert x.std().item() == pytest.approx(math.sqrt(1 - a), rel=0.02)
