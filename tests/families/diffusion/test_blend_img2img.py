"""Prompt blending and image-to-image: the blend syntax and its embedding, the inputs store, and
SDEdit on a tiny diffusion model (strength 0 gives the input back)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.core.errors import RequestError, StudioError
from studio.core.pixels import content_hash
from studio.core.prompt.blend import blend_text, embed_prompts, parse_blend
from studio.core.request import GenerationRequest
from studio.store.inputs import inputs_dir, load_input, store_input
from studio.store.pngmeta import read_settings
from studio.store.registry import load_model


class FakeEncoder:
    """Unit vectors that differ per prompt, as the sentence encoder's do; '' gives zeros."""

    def encode(self, prompts: list[str]) -> torch.Tensor:
        rows = []
        for p in prompts:
            if not p:
                rows.append(torch.zeros(8))
                continue
            v = torch.randn(8, generator=torch.Generator().manual_seed(sum(map(ord, p))))
            rows.append(v / v.norm())
        return torch.stack(rows)


def test_parse_blend():
    assert parse_blend("a sneaker") == [("a sneaker", 1.0)]
    assert parse_blend("a sneaker::0.7 |  a sandal::0.3") == [("a sneaker", 0.7), ("a sandal", 0.3)]
    assert parse_blend("a red, shiny boot | a bag") == [("a red, shiny boot", 1.0), ("a bag", 1.0)]
    assert parse_blend("") == [("", 1.0)]
    for bad, message in [("a | ", "needs words"), ("a::0 | b::0", "must not all be 0"), ("a::-1 | b", "between 0")]:
        with pytest.raises(RequestError, match=message):
            parse_blend(bad)
    assert blend_text("a", "b", 0.0) == "a" and blend_text("a", "b", 1.0) == "b"
    assert parse_blend(blend_text("a", "b", 0.25)) == [("a", 0.75), ("b", 0.25)]


def test_blended_embedding_is_the_renormalised_weighted_mean():
    enc = FakeEncoder()
    a, b = enc.encode(["a sneaker", "a sandal"])
    out = embed_prompts(enc, ["a sneaker::3 | a sandal::1", "a sneaker", "", "a sneaker::1 | a sandal::0"])
    mixed = 0.75 * a + 0.25 * b
    torch.testing.assert_close(out[0], mixed / mixed.norm())
    assert out[0].norm().item() == pytest.approx(1.0)
    torch.testing.assert_close(out[1], a)
    assert out[2].abs().sum() == 0, "the empty prompt stays the null condition"
    torch.testing.assert_close(out[3], a)


def test_requests_check_blends_strength_and_inputs():
    with pytest.raises(RequestError, match="needs words"):
        GenerationRequest(prompt="a boot | ").validated()
    with pytest.raises(RequestError, match="Strength"):
        GenerationRequest(strength=1.5).validated()
    with pytest.raises(RequestError, match="input image hash"):
        GenerationRequest(init_image="../../etc/passwd").validated()
    req = GenerationRequest(prompt="a sneaker::0.7 | a sandal::0.3", init_image="0123456789abcdef", strength=0.35)
    assert GenerationRequest.from_parameters(req.to_parameters()) == req
    assert "Denoising strength: 0.35" in req.to_parameters()


def test_inputs_store_by_content_and_notice_damage(data_dir):
    img = np.arange(12 * 12, dtype=np.uint8).reshape(12, 12, 1)
    h = store_input(img)
    assert h == content_hash(img) and store_input(img.copy()) == h
    assert np.array_equal(load_input(h), img)
    with pytest.raises(StudioError, match="not in"):
        load_input("f" * 16)
    Image.fromarray(255 - img[..., 0]).save(inputs_dir() / f"{h}.png")
    with pytest.raises(StudioError, match="has changed"):
        load_input(h)


def test_img2img_strength_runs_that_share_of_the_steps_and_zero_returns_the_input(tiny_ckpt):
    model = load_model("tiny-diffusion")
    img = (np.random.default_rng(0).random((12, 12, 1)) * 255).astype(np.uint8)
    req = model.default_request().with_(prompt="a coat", init_image=store_input(img), steps=10, seed=3)
    frames = list(model.sample(req.with_(strength=0.0), init=img))
    assert len(frames) == 1 and frames[0].final and np.array_equal(frames[0].preview[0], img)
    assert len(list(model.sample(req.with_(strength=0.3), init=img))) == 3
    half = model.generate(req.with_(strength=0.5), init=img)
    d_half = np.abs(half[0].astype(int) - img).mean()
    d_low = np.abs(model.generate(req.with_(strength=0.1), init=img)[0].astype(int) - img).mean()
    assert d_low < d_half, "less strength keeps more of the input"
    big = np.zeros((28, 28, 1), np.uint8)
    with pytest.raises(StudioError, match="drop the image again"):
        model.generate(req.with_(init_image=store_input(big)), init=big)
    with pytest.raises(StudioError, match="do not match"):
        model.generate(req, init=255 - img)  # the pixels are not the ones the request names
    with pytest.raises(StudioError, match="were not given"):
        model.generate(req)


def test_families_without_img2img_say_so(tiny_vae, tiny_gan):
    h = store_input(np.zeros((12, 12, 1), np.uint8))
    for name, label in [("tiny-vae", "VAE"), ("tiny-gan", "GAN")]:
        model = load_model(name)
        with pytest.raises(StudioError, match=f"The {label} family has no image-to-image path"):
            model.generate(model.default_request().with_(init_image=h))


def test_cli_init_image(tiny_ckpt, tmp_path, capsys):
    src = tmp_path / "in.png"
    Image.fromarray(np.full((40, 40), 200, np.uint8)).save(src)  # light background: inverted to fit the model
    out = tmp_path / "out.png"
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--init-image", str(src), "--strength", "0",
                 "--out", str(out), "--steps", "4"]) == 0
    assert "inverted" in capsys.readouterr().err
    req, _ = read_settings(out)
    assert req.strength == 0.0 and np.array_equal(np.asarray(Image.open(out))[..., None], load_input(req.init_image))
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--init-image", str(tmp_path / "none.png"),
                 "--out", str(out)]) == 2
    assert "none.png does not exist" in capsys.readouterr().err
