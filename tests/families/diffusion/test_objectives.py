"""What the denoiser predicts and how its loss is weighted: v-prediction converts back to the exact
noise, min-SNR weighting, and warm starts that keep a trained model's function."""
from __future__ import annotations

import pytest
import torch

from studio.core.denoising.schedule import NoiseSchedule
from studio.core.errors import CheckpointError
from studio.core.families.diffusion.model import build, diffusion_loss, to_eps
from studio.core.families.diffusion.train import model_config, warm_start
from tests.conftest import make_tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


class Oracle(torch.nn.Module):
    """Knows x0 and so answers the exact target of either objective."""

    def __init__(self, x0: torch.Tensor, schedule: NoiseSchedule, prediction: str) -> None:
        super().__init__()
        self.x0, self.schedule, self.prediction = x0, schedule, prediction

    def forward(self, x_t, t, cond):
        a = self.schedule.alphas_cumprod[t].float().view(-1, 1, 1, 1)
        eps = (x_t - a.sqrt() * self.x0) / (1 - a).sqrt()
        return eps if self.prediction == "epsilon" else a.sqrt() * eps - (1 - a).sqrt() * self.x0


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_the_exact_prediction_has_zero_loss_and_converts_to_the_true_noise(prediction):
    schedule = NoiseSchedule()
    x0 = torch.rand(4, 1, 6, 6) * 2 - 1
    oracle = Oracle(x0, schedule, prediction)
    g = torch.Generator().manual_seed(0)
    loss = diffusion_loss(oracle, schedule, x0, None, g, prediction=prediction, min_snr_gamma=5.0)
    assert float(loss) < 1e-8
    t = torch.tensor([0, 250, 600, 999])
    noise = torch.randn(x0.shape, generator=g)
    x_t = schedule.q_sample(x0, t, noise)
    torch.testing.assert_close(to_eps(oracle(x_t, t, None), x_t, t, schedule, prediction), noise, atol=1e-3, rtol=0)


def test_min_snr_weighting_caps_the_easy_steps_and_is_uniform_when_gamma_is_huge():
    schedule = NoiseSchedule()
    model = lambda x, t, c: torch.zeros_like(x)  # noqa: E731 - every step's error is the target itself
    x0 = torch.rand(64, 1, 4, 4) * 2 - 1

    def loss(**kw):
        return float(diffusion_loss(model, schedule, x0, None, torch.Generator().manual_seed(3), **kw))

    plain = loss()
    assert loss(min_snr_gamma=1e9) == pytest.approx(plain, rel=1e-6)  # min(SNR, inf)/SNR = 1
    assert loss(min_snr_gamma=1.0) < plain  # low-noise steps (SNR > 1) count less


def test_warm_start_keeps_the_old_function_and_refuses_another_objective(tmp_path):
    old_path = make_tiny_checkpoint(tmp_path / "old.safetensors", image_size=8)
    from studio.core import checkpoint

    old = checkpoint.load(old_path)
    config = dict(old.config, unet=dict(old.config["unet"], context_dim=384))
    model, _ = build(config)
    info = warm_start(model, config, str(old_path))
    assert info["checkpoint"] == "old" and info["new_tensors"] > 0
    before, _ = build(old.config)
    before.load_state_dict(old.group("ema"))
    x, t, vec = torch.randn(2, 1, 8, 8), torch.tensor([5, 700]), torch.randn(2, 384)
    from studio.core.prompt.packed import pack

    torch.testing.assert_close(model(x, t, pack(vec, [torch.randn(4, 384)] * 2)), before(x, t, vec))
    with pytest.raises(CheckpointError, match="prediction"):
        warm_start(model, dict(config, prediction="v"), str(old_path))
    other = model_config(dataset="x", in_channels=3, image_size=8, base_channels=8)
    with pytest.raises(CheckpointError, match="does not fit"):
        warm_start(build(other)[0], other, str(old_path))


def test_the_schedule_option_builds_the_named_schedule_and_refuses_others():
    linear = model_config(dataset="shapes", in_channels=3, image_size=8, schedule="linear")
    assert linear["schedule"]["kind"] == "linear"
    _, schedule = build(linear)
    assert torch.allclose(schedule.betas[[0, -1]], torch.tensor([1e-4, 0.02], dtype=schedule.betas.dtype))
    assert model_config(dataset="shapes", in_channels=3, image_size=8)["schedule"]["kind"] == "cosine"
    with pytest.raises(ValueError, match="unknown schedule"):
        model_config(dataset="shapes", in_channels=3, image_size=8, schedule="sigmoid")
