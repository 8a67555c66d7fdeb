"""The DiT denoiser: shapes with padding, adaLN-Zero's zero start, what its output depends on (time,
pooled prompt, tokens and their weights), a few steps of learning, and a safetensors round trip."""
import pytest
import torch
from safetensors.torch import load_file, save_file

from studio.core.denoising.conditioning import pack
from studio.core.denoising.schedule import NoiseSchedule
from studio.core.families.diffusion.config import DIT_DEFAULTS
from studio.core.families.diffusion.dit import DiT, DiTConfig

pytestmark = pytest.mark.usefixtures("one_thread")

D = 8  # prompt embedding size of the tiny models


def tiny(**kw) -> DiTConfig:
    return DiTConfig(**({"image_size": 12, "patch_size": 2, "hidden": 32, "depth": 2, "heads": 4,
                         "mlp_ratio": 2.0, "cond_dim": D} | kw))


def perturbed(config: DiTConfig, seed: int = 0) -> DiT:
    """A DiT whose zero-initialised layers are no longer zero, so every input matters."""
    torch.manual_seed(seed)
    model = DiT(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def inputs(config: DiTConfig, n: int = 2, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, config.in_channels, config.image_size, config.image_size, generator=g)
    return x, torch.randint(0, 1000, (n,), generator=g)


def packed(n: int = 2, lengths: tuple[int, ...] = (3, 2), seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return pack(torch.randn(n, D, generator=g), [torch.randn(k, D, generator=g) for k in lengths])


def test_defaults_dict_matches_the_config():
    assert DIT_DEFAULTS == DiTConfig().to_dict()  # the torch-free bounds check reads these
    cfg = tiny(context_dim=D)
    assert DiTConfig.from_dict(cfg.to_dict() | {"arch": "dit", "unknown": 1}) == cfg


@pytest.mark.parametrize(("channels", "size", "patch"), [(1, 12, 2), (3, 12, 4), (1, 7, 2), (3, 7, 3)])
def test_output_shaped_like_the_input(channels, size, patch):
    cfg = tiny(in_channels=channels, image_size=size, patch_size=patch)
    model = perturbed(cfg)
    x, t = inputs(cfg, n=3)
    out = model(x, t, torch.randn(3, D))
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_odd_size_is_zero_padded_then_cropped():
    # 7 px with patch 2 runs on the same 4x4 patch grid as the image zero-padded to 8 px
    cfg = tiny(image_size=7)
    model = perturbed(cfg)
    x, t = inputs(cfg)
    padded = model(torch.nn.functional.pad(x, (0, 1, 0, 1)), t)
    assert padded.shape[-2:] == (8, 8)
    assert torch.equal(model(x, t), padded[:, :, :7, :7])


def test_output_is_exactly_zero_at_init():
    for cfg in (tiny(), tiny(context_dim=D, image_size=7)):
        torch.manual_seed(0)
        model = DiT(cfg)
        x, t = inputs(cfg)
        cond = packed() if cfg.context_dim else torch.randn(2, D)
        assert torch.equal(model(x, t, cond), torch.zeros_like(x))


def test_output_depends_on_time_and_pooled_prompt():
    cfg = tiny()
    model = perturbed(cfg)
    x, t = inputs(cfg)
    cond = torch.randn(2, D)
    base = model(x, t, cond)
    assert not torch.allclose(base, model(x, t + 1, cond), atol=1e-5)
    assert not torch.allclose(base, model(x, t, cond + 0.5), atol=1e-5)
    assert torch.equal(model(x, t, None), model(x, t, torch.zeros(2, D)))


def test_unconditional_model_ignores_the_condition():
    cfg = tiny(cond_dim=0)
    model = perturbed(cfg)
    x, t = inputs(cfg)
    assert torch.equal(model(x, t, None), model(x, t, torch.randn(2, D)))


def test_output_depends_on_tokens_and_their_weights():
    cfg = tiny(context_dim=D)
    model = perturbed(cfg)
    x, t = inputs(cfg)
    cond = packed()
    base = model(x, t, cond)
    other_tokens = cond.clone()
    other_tokens[:, 1:, :-1] += 0.5 * torch.randn(2, cond.shape[1] - 1, D)  # (a constant would be normalised away)
    assert torch.equal(other_tokens[:, 0], cond[:, 0])  # same pooled vector
    assert not torch.allclose(base, model(x, t, other_tokens), atol=1e-5)
    reweighted = cond.clone()
    reweighted[:, 1, -1] = 0.3
    assert not torch.allclose(base, model(x, t, reweighted), atol=1e-5)


def test_a_token_of_weight_zero_is_a_token_absent():
    cfg = tiny(context_dim=D)
    model = perturbed(cfg)
    x, t = inputs(cfg, n=1)
    g = torch.Generator().manual_seed(3)
    vec, toks = torch.randn(1, D, generator=g), torch.randn(3, D, generator=g)
    weighted = pack(vec, [toks], weights=[torch.tensor([1.0, 0.0, 1.0])])
    without = pack(vec, [toks[[0, 2]]])
    assert not torch.allclose(model(x, t, weighted), model(x, t, pack(vec, [toks])), atol=1e-5)
    torch.testing.assert_close(model(x, t, weighted), model(x, t, without), atol=1e-5, rtol=1e-5)


def test_dropped_condition_gives_finite_output():
    cfg = tiny(context_dim=D)
    model = perturbed(cfg)
    x, t = inputs(cfg)
    cond = packed()
    for dropped in (torch.zeros_like(cond), pack(torch.zeros(2, D), [torch.zeros(0, D)] * 2)):
        out = model(x, t, dropped)
        assert out.shape == x.shape and torch.isfinite(out).all()
    # No tokens at all, packed or not, reads only the null slot: the same prediction.
    torch.testing.assert_close(model(x, t, torch.zeros_like(cond)), model(x, t, None))
    torch.testing.assert_close(model(x, t, None), model(x, t, torch.zeros(2, D)))


def test_a_few_adamw_steps_lower_the_denoising_loss():
    cfg = tiny(image_size=8, context_dim=D)
    torch.manual_seed(0)
    model = DiT(cfg)
    schedule = NoiseSchedule()
    g = torch.Generator().manual_seed(4)
    x0 = torch.zeros(8, 1, 8, 8)
    x0[::2, :, 2:6, 2:6] = 1.0  # squares and blanks, in [-1, 1]
    x0 = 2 * x0 - 1
    t = torch.randint(50, 500, (8,), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    x_t, cond = schedule.q_sample(x0, t, noise), packed(8, (3, 2) * 4)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)

    def loss() -> torch.Tensor:
        return torch.nn.functional.mse_loss(model(x_t, t, cond), noise)

    first = loss().item()
    for _ in range(15):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.8 * first


def test_state_dict_round_trips_through_safetensors(tmp_path):
    cfg = tiny(image_size=7, context_dim=D)
    model = perturbed(cfg)
    path = tmp_path / "dit.safetensors"
    save_file(model.state_dict(), str(path))
    torch.manual_seed(99)
    fresh = DiT(DiTConfig.from_dict(cfg.to_dict())).eval()
    fresh.load_state_dict(load_file(str(path)))
    x, t = inputs(cfg)
    cond = packed()
    assert torch.equal(model(x, t, cond), fresh(x, t, cond))
