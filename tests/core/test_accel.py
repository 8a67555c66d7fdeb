"""The GPU path's switches: each one changes how the denoiser runs, never what it computes (beyond
bf16 rounding). The CUDA test runs only where there is a GPU; CI has none."""
import pytest
import torch

from studio.core.accel import Accel
from studio.core.errors import StudioError


def tiny_unet():
    from studio.core.denoising.unet import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(in_channels=1, image_size=12, base_channels=8, channel_mult=(1, 2), attention_levels=(1,),
                          cond_dim=16, emb_dim=16))
    with torch.no_grad():  # the zero-initialised output layer would make every output 0
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


def run(accel: Accel, device: str = "cpu") -> torch.Tensor:
    net = tiny_unet().to(device)
    fn = accel.prepare(net, device)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 1, 12, 12, generator=g).to(device)
    cond = torch.randn(4, 16, generator=g).to(device)
    t = torch.tensor([0, 10, 500, 999], device=device)
    with torch.no_grad(), accel.autocast(device):
        return fn(accel.inputs(x), t, cond).float().cpu()


def test_switches_parse_and_refuse_unknown_names(monkeypatch):
    assert Accel.parse("bf16, compile") == Accel(bf16=True, compile=True)
    assert Accel.parse("none") == Accel.parse("") == Accel()
    with pytest.raises(StudioError, match="Unknown acceleration switch 'fp8'"):
        Accel.parse("bf16,fp8")
    monkeypatch.delenv("GENSTUDIO_ACCEL", raising=False)
    assert Accel.default_for("cpu") == Accel() and Accel.default_for("cuda:0") == Accel(bf16=True, channels_last=True)
    monkeypatch.setenv("GENSTUDIO_ACCEL", "channels_last")
    assert Accel.default_for("cuda") == Accel(channels_last=True)
    assert Accel(bf16=True, compile=True).describe() == "bf16, compile" and Accel().describe() == "float32"


def test_channels_last_computes_the_same_and_bf16_only_rounds():
    plain = run(Accel())
    assert torch.allclose(run(Accel(channels_last=True)), plain, atol=1e-5)
    bf16 = run(Accel(bf16=True))
    assert not torch.equal(bf16, plain), "autocast is really on"
    assert (bf16 - plain).abs().max() < 0.05 * plain.abs().max()


@pytest.mark.heavy
def test_compiled_denoiser_matches_eager_on_cpu():
    """torch.compile on the CPU builds C++ for about a minute: run with ``pytest -m heavy``."""
    assert torch.allclose(run(Accel(compile=True)), run(Accel()), atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_cuda_path_matches_float32():
    plain = run(Accel(), "cuda")
    fast = run(Accel(bf16=True, channels_last=True, compile=True), "cuda")
    assert (fast - plain).abs().max() < 0.05 * plain.abs().max()


def test_the_diffusion_family_samples_through_the_switches(tmp_path):
    """The family's denoiser runs under its Accel: channels_last gives the same image, bf16 a close one."""
    import numpy as np

    from studio.core.families import load_family
    from tests.conftest import make_tiny_checkpoint

    path = make_tiny_checkpoint(tmp_path / "tiny.safetensors", cond_dim=0)
    images = {}
    for accel in (Accel(), Accel(channels_last=True), Accel(bf16=True)):
        model = load_family(path, "cpu", accel=accel)
        assert model.accel == accel
        images[accel.describe()] = model.generate(model.default_request().with_(steps=5, seed=3)).astype(int)
    assert np.abs(images["channels_last"] - images["float32"]).max() <= 1
    assert np.abs(images["bf16"] - images["float32"]).mean() < 8
