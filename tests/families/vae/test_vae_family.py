"""The VAE family on a tiny checkpoint, the request's latent field and images dropped on the latent panel."""
import json

import numpy as np
import pytest
from PIL import Image

from studio.core import checkpoint
from studio.core.errors import CheckpointError, RequestError, StudioError
from studio.core.families.vae.family import VAEFamily, prior_latents
from studio.core.images import load_for_model
from studio.core.request import GenerationRequest
from tests.conftest import make_tiny_vae


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    return VAEFamily.from_checkpoint(make_tiny_vae(tmp_path_factory.mktemp("vae") / "tiny-vae.safetensors"))


def req(family, **kw):
    return family.default_request().with_(**kw)


def test_sample_yields_one_final_frame_and_seeds_follow_seed_plus_i(family):
    [frame] = family.sample(req(family, batch_size=3, seed=4))
    assert frame.final and (frame.step, frame.total) == (1, 1)
    assert frame.preview.shape == (3, 12, 12, 1) and frame.preview.dtype == np.uint8
    assert family.default_request().family == "vae" and family.latent_dim == 2
    assert family.image_format.shape == (12, 12, 1)
    batch = family.generate(req(family, seed=10, batch_size=3))
    assert np.array_equal(batch, family.generate(req(family, seed=10, batch_size=3)))
    assert not np.array_equal(batch[0], batch[1])
    for i in range(3):
        single = family.generate(req(family, seed=10 + i))[0]
        assert np.abs(batch[i].astype(int) - single.astype(int)).max() <= 1
    assert np.array_equal(prior_latents(10, 3, 2)[2], prior_latents(12, 1, 2)[0])
    assert np.array_equal(family.generate_many(req(family, seed=10), 3), family.decode(prior_latents(10, 3, 2)))


def test_an_explicit_latent_is_decoded_and_the_seed_ignored(family):
    z = (0.75, -1.5)
    img = family.generate(req(family, latent=z, seed=1))
    assert np.array_equal(img, family.decode(np.array(z)))
    assert np.array_equal(img, family.generate(req(family, latent=z, seed=2)))
    with pytest.raises(StudioError, match="2-D latent"):
        family.generate(req(family, latent=(1.0, 2.0, 3.0)))


def test_encode_checks_sizes_and_round_trips_shapes(family):
    images = np.random.default_rng(0).integers(0, 256, (4, 12, 12, 1), dtype=np.uint8)
    codes = family.encode(images)
    assert codes.shape == (4, 2) and codes.dtype == np.float32
    np.testing.assert_allclose(codes, family.encode(images[..., 0]), atol=1e-6)  # (N, H, W) is gray too
    assert family.decode(codes).shape == (4, 12, 12, 1)
    for shape in ((2, 28, 28, 1), (2, 12, 12, 3), (12, 12, 1)):
        with pytest.raises(StudioError, match="Expected 12x12"):
            family.encode(np.zeros(shape, np.uint8))


def test_basis_and_latent_map_come_from_the_checkpoint(family, tmp_path):
    assert family.basis.names == ["z1", "z2"] and family.basis.explained is None
    m = family.latent_map
    assert (m.points.shape, m.labels.shape, len(m.class_names), m.source) == ((30, 2), (30,), 10, "random points")
    path = make_tiny_vae(tmp_path / "v10.safetensors", latent_dim=10, directions=4)
    big, stored = VAEFamily.from_checkpoint(path), checkpoint.load(path)
    assert big.basis.names == ["PC1", "PC2", "PC3", "PC4"] and big.basis.directions.shape == (4, 10)
    np.testing.assert_array_equal(big.basis.directions, stored.group("latent")["directions"].numpy())
    np.testing.assert_allclose(big.basis.directions @ big.basis.directions.T, np.eye(4), atol=1e-5)
    assert np.all(np.diff(big.basis.explained) <= 0)
    np.testing.assert_array_equal(big.latent_map.points, stored.group("map")["points"].numpy())


@pytest.mark.slow
def test_a_conditional_vae_follows_the_prompt(tmp_path):
    family = VAEFamily.from_checkpoint(make_tiny_vae(tmp_path / "c.safetensors", cond_dim=384))
    assert family.conditional and family.encoder is not None
    z = prior_latents(0, 2, 2)
    sneaker = family.decode(z, "a sneaker")
    assert np.array_equal(sneaker, family.decode(z, "a sneaker"))
    assert not np.array_equal(sneaker, family.decode(z, "a pair of trousers"))
    assert family.decode(z, "").shape == (2, 12, 12, 1) and family.encode(sneaker, "a sneaker").shape == (2, 2)


def test_broken_checkpoints_give_checkpoint_errors(tmp_path, tiny_ckpt):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupt"):
        VAEFamily.from_checkpoint(bad)
    with pytest.raises(CheckpointError, match="not a vae model"):
        VAEFamily.from_checkpoint(tiny_ckpt)
    good = checkpoint.load(make_tiny_vae(tmp_path / "v.safetensors"))
    for change in ({"image_size": 30}, {"latent_dim": 3}):  # an invalid config; weights of another shape
        config = {**good.config, "vae": {**good.config["vae"], **change}}
        with pytest.raises(CheckpointError):
            VAEFamily.from_checkpoint(checkpoint.save(tmp_path / "x.safetensors", family="vae", config=config,
                                                      tensors=good.tensors))
    with pytest.raises(StudioError, match="fashion-mnist"):
        VAEFamily.train_task("cifar-10")


@pytest.mark.parametrize("latent,batch", [((float("nan"), 0.0), 1), ((float("inf"),), 1), ((0.0, 50.5), 1),
                                          ((0.0, 1.0), 2)])
def test_bad_latents_are_refused(latent, batch):
    with pytest.raises(RequestError):
        GenerationRequest(latent=latent, batch_size=batch).validated()


def test_latent_round_trips_through_dict_json_and_parameters():
    assert GenerationRequest(latent=(50.0, -50.0, 0.0)).validated().latent == (50.0, -50.0, 0.0)
    assert "Latent" not in GenerationRequest().to_parameters()
    req = GenerationRequest(family="vae", checkpoint="tiny-vae", latent=(0.25, -1.5, 3e-05, 12.0), seed=3).normalized()
    assert GenerationRequest.from_dict(req.to_dict()) == req
    assert GenerationRequest.from_dict(json.loads(req.to_json())) == req
    assert GenerationRequest.from_parameters(req.to_parameters()) == req
    with pytest.raises(RequestError, match="latent"):
        GenerationRequest.from_dict({"latent": ["a", "b"]})


def test_an_encoded_latent_survives_the_parameters_text():
    """A latent from the encoder or a slider is arbitrary float32 values, not short decimals."""
    latent = tuple(float(v) for v in np.random.default_rng(0).standard_normal(4).astype(np.float32))
    req = GenerationRequest(family="vae", latent=latent)
    assert GenerationRequest.from_parameters(req.to_parameters()).latent == latent


def test_load_for_model_pads_resizes_inverts_and_composites_transparency(tmp_path):
    rgb = np.full((20, 30, 3), 255, np.uint8)
    rgb[5:15, 10:20] = (40, 20, 10)  # a dark object on white
    Image.fromarray(rgb).save(tmp_path / "photo.jpg")
    a, note = load_for_model(tmp_path / "photo.jpg", 12, 1)
    assert a.shape == (12, 12, 1) and a.dtype == np.uint8
    assert "padded" in note and "resized from 30x20 to 12x12" in note and "inverted" in note
    assert a[0].mean() < 20 and a[6, 6, 0] > 200  # now light on dark, like Fashion-MNIST
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(StudioError, match=r"notes\.txt"):
        load_for_model(tmp_path / "notes.txt", 12, 1)
    rgba = np.zeros((12, 12, 4), np.uint8)
    rgba[3:9, 3:9] = (255, 255, 255, 255)  # a white square on a transparent background
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    a, note = load_for_model(tmp_path / "cut.png", 12, 1)
    assert a.shape == (12, 12, 1) and note == "used as is" and a[0].max() == 0 and a[5, 5, 0] == 255
    assert load_for_model(tmp_path / "cut.png", 12, 3)[0].shape == (12, 12, 3)
