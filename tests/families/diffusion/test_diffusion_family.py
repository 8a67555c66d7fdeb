"""The diffusion family's streaming sampler: frames, determinism, guidance, unconditional prompts."""
import numpy as np
import pytest

from studio.core.families.diffusion.family import DiffusionFamily
from studio.core.prompt.encoder import shared_encoder


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from tests.conftest import make_tiny_checkpoint

    path = make_tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.safetensors")
    return DiffusionFamily.from_checkpoint(path, encoder=shared_encoder())


def req(model, **kw):
    return model.default_request().with_(**kw)


def test_streams_one_frame_per_step_with_changing_previews(model):
    frames = list(model.sample(req(model, prompt="a sneaker", steps=6, batch_size=2), want_noisy=True))
    assert [f.step for f in frames] == list(range(1, 7)) and frames[-1].final
    assert not any(f.final for f in frames[:-1])
    assert frames[0].preview.shape == (2, 12, 12, 1) and frames[0].preview.dtype == np.uint8
    assert frames[0].noisy is not None
    assert len({f.preview.tobytes() for f in frames}) >= 4, "the preview should evolve step by step"


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_same_seed_same_pixels(model, sampler):
    r = req(model, prompt="a bag", steps=5, seed=7, sampler=sampler, batch_size=2)
    a, b = model.generate(r), model.generate(r)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, model.generate(r.with_(seed=8)))


def test_image_i_of_a_batch_is_image_0_of_seed_plus_i(model):
    batch = model.generate(req(model, prompt="a coat", steps=4, seed=100, batch_size=3))
    single = model.generate(req(model, prompt="a coat", steps=4, seed=102, batch_size=1))
    assert np.abs(batch[2].astype(int) - single[0].astype(int)).max() <= 1


def test_prompt_and_guidance_change_the_image_and_empty_prompt_works(model):
    base = req(model, prompt="a sneaker", steps=4, seed=3)
    a = model.generate(base)
    assert not np.array_equal(a, model.generate(base.with_(prompt="trousers")))
    assert not np.array_equal(a, model.generate(base.with_(guidance=7.0)))
    assert model.generate(base.with_(prompt="")).shape == a.shape
