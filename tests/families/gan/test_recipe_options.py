"""The GAN's recipe options: DiffAugment, the R1 penalty, the critic's own learning rate and a
StyleGAN mapping network, whose sliders and requests then live in W. Each changes what it should,
a tiny model with all of them trains and ships, and checkpoints from before them load as they did."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.core import checkpoint
from studio.core.errors import CheckpointError, StudioError
from studio.core.families.gan import config as gan_config
from studio.core.families.gan import train as gan_train
from studio.core.families.gan.augment import TRANSFORMS, cutout, diff_augment, translation
from studio.core.families.gan.family import GANFamily
from studio.core.families.gan.model import GAN, GANConfig, Generator, r1_penalty
from studio.core.families.gan.train import attribute_directions, gan_task, mapped_latents
from studio.core.latent_space.family import prior_latents
from studio.core.pixels import from_signed
from studio.core.training.trainer import TrainConfig, Trainer
from tests.conftest import make_tiny_gan
from tests.core.training.exact import assert_resume_is_exact

pytestmark = pytest.mark.usefixtures("one_thread")

ALL = {"diffaugment": "color,translation,cutout", "r1": 10.0, "mapping": 2, "d_lr": 4e-4}


class Reader:
    """Reads 'attributes' off random projections of the pixels: a stand-in for the Faces classifier."""

    def embed(self, images):
        from studio.core.data.faces import ATTRIBUTES

        x = images.reshape(len(images), -1).astype(np.float64) / 255
        rng = np.random.default_rng(0)
        preds = {}
        for a in ATTRIBUTES:
            score = x @ rng.standard_normal(x.shape[1])
            preds[a.name] = (np.digitize(score, np.quantile(score, np.linspace(0, 1, a.classes + 1)[1:-1]))
                             if a.kind == "categorical" else score)
        return None, preds


# --- DiffAugment ------------------------------------------------------------------------------
def test_diffaugment_keeps_shapes_is_differentiable_and_changes_the_images():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 12, 12, requires_grad=True)
    for policy in [("color",), ("translation",), ("cutout",), gan_config.DIFFAUGMENT_POLICIES]:
        y = diff_augment(x, policy)
        assert y.shape == x.shape and not torch.equal(y, x), policy
        (grad,) = torch.autograd.grad(y.square().sum(), x)
        assert grad.abs().sum() > 0, f"{policy}: the generator's gradient must flow back through it"
    assert diff_augment(x, ()) is x
    assert tuple(TRANSFORMS) == gan_config.DIFFAUGMENT_POLICIES


def test_translation_shifts_whole_images_and_cutout_blanks_a_square():
    torch.manual_seed(1)
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(64, 1, 1, 1) + 1  # no zeros of its own
    shifted = translation(x, ratio=0.25)  # up to one pixel each way
    # every kept pixel is an original one moved by the same offset; what came in is zero
    for img in shifted[:, 0]:
        kept = img[img > 0]
        assert len(kept) >= 9 and set(kept.tolist()) <= set(range(1, 17))
    assert any(not torch.equal(s, x[0]) for s in shifted)
    blanked = cutout(torch.ones(64, 2, 8, 8))
    zeros = (blanked == 0).sum(dim=(2, 3))
    assert torch.equal(zeros[:, 0], zeros[:, 1]), "the same square in every channel"
    assert zeros.max() == 16 and zeros.min() >= 4, "a 4x4 square, partly off the image at the edges"


def test_diffaugment_policies_are_parsed_and_bad_ones_refused():
    assert gan_config.parse_diffaugment("cutout, translation", 1) == ("translation", "cutout")
    assert gan_config.parse_diffaugment("", 3) == gan_config.parse_diffaugment("none", 3) == ()
    with pytest.raises(StudioError, match="Unknown DiffAugment transform 'rotate'"):
        gan_config.parse_diffaugment("translation,rotate", 3)
    with pytest.raises(StudioError, match="greyscale"):
        gan_config.parse_diffaugment("color", 1)


# --- R1 ---------------------------------------------------------------------------------------
def test_r1_is_zero_for_a_constant_critic_and_the_squared_gradient_norm_otherwise():
    x = torch.randn(5, 1, 4, 4)
    penalty, logits = r1_penalty(lambda im: im.sum(dim=(1, 2, 3)) * 0 + 3.0, x)
    assert penalty.item() == 0.0 and torch.equal(logits, torch.full((5,), 3.0))
    v = torch.randn(1, 1, 4, 4)
    penalty, _ = r1_penalty(lambda im: (im * v).sum(dim=(1, 2, 3)), x)
    assert penalty.item() == pytest.approx(v.square().sum().item(), rel=1e-5)  # grad of x.v is v
    critic = GAN(GANConfig(image_size=8, z_dim=4, g_channels=4, d_channels=4)).discriminator
    penalty, _ = r1_penalty(critic, torch.randn(5, 1, 8, 8))
    assert penalty.item() > 0
    penalty.backward()
    weights = [p for n, p in critic.named_parameters() if "weight" in n]
    assert weights and all(p.grad is not None and p.grad.abs().sum() > 0 for p in weights), "it trains the critic"


# --- every option at once ----------------------------------------------------------------------
def _train(tmp_path, steps: int = 8, **options):
    task = gan_task("faces", limit=32, batch_size=8, width=4, z_dim=8, **options)
    cfg = TrainConfig(steps=steps, batch_size=8, lr=2e-4, warmup=2, log_every=4, precision="fp32",
                      sample_every=10**9, checkpoint_every=10**9)
    out = tmp_path / "g.safetensors"
    events = list(Trainer(task, cfg, out).run())
    return out, [e.metrics for e in events if e.kind == "step"]


def test_a_tiny_gan_with_every_option_trains_ships_and_samples(tmp_path, monkeypatch):
    from studio.core.evaluation import face_classifier
    from studio.store.registry import load_model

    monkeypatch.setattr(face_classifier, "load_face_classifier", lambda path, device="cpu": Reader())
    out, metrics = _train(tmp_path, **ALL, attribute_classifier="reader")
    assert all("r1" in m and np.isfinite(list(m.values())).all() for m in metrics)
    assert metrics[0]["r1"] > 0, "the penalty was measured on the first critic step"
    card = checkpoint.read_card(out)
    assert {k: card["recipe"][k] for k in ("diffaugment", "r1_gamma", "r1_every", "mapping_layers", "lr_d")} == {
        "diffaugment": "color,translation,cutout", "r1_gamma": 10.0, "r1_every": 16, "mapping_layers": 2,
        "lr_d": 4e-4}
    assert card["config"]["gan"]["mapping"] == 2
    assert "on w over" in card["attribute_directions"]["method"]
    model = load_model(str(out))
    assert isinstance(model, GANFamily) and model.in_w and model.can("attributes")
    images = model.generate(model.default_request().with_(seed=1, batch_size=3))
    assert images.shape == (3, 32, 32, 3)
    assert len({im.tobytes() for im in images}) == 3
    # attribute sliders in W: centred on the mean w, a unit is one standard deviation of w along each
    basis = model.basis
    assert basis.names[:4] == ["smile", "eyes open", "glasses", "head size"] and basis.dim == 8
    np.testing.assert_allclose(basis.directions @ basis.directions.T, np.eye(len(basis)), atol=1e-5)
    w = mapped_latents(model.generator, 8)
    np.testing.assert_allclose(basis.origin, w.mean(0), atol=1e-5)
    np.testing.assert_allclose(basis.scales, ((w - basis.origin) @ basis.directions.T).std(0), rtol=1e-3)


def test_the_default_recipe_records_its_options_off_and_builds_no_mapping_network(tmp_path):
    task = gan_task("faces", limit=8, batch_size=4, width=4, z_dim=8)
    assert {k: task.card["recipe"][k] for k in ("diffaugment", "r1_gamma", "mapping_layers")} == {
        "diffaugment": "none", "r1_gamma": 0.0, "mapping_layers": 0}
    assert task.model.generator.mapping is None
    assert not any(k.startswith("mapping") for k in task.model.generator.state_dict())


def test_r1_is_lazy_and_every_option_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(gan_train, "R1_EVERY", 2)  # the penalty within a six-step run, both sides of the cut
    assert_resume_is_exact(lambda: gan_task("faces", batch_size=8, limit=24, width=4, z_dim=8, **ALL),
                           tmp_path, steps=6, cut_at=3)


def test_r1_and_diffaugment_change_the_critic_step(tmp_path):
    def critic_gradient(**options) -> torch.Tensor:
        """The critic's gradient after one step (Adam's first update only sees its signs)."""
        torch.manual_seed(0)
        task = gan_task("faces", limit=8, batch_size=8, width=4, z_dim=8, **options)
        opts = task.optimizers(task.model)
        x = next(iter(task.batches))
        torch.manual_seed(1)
        task.step(task.model, x, opts, lambda: torch.autocast("cpu", enabled=False))
        return torch.cat([p.grad.flatten() for p in task.model.discriminator.parameters() if p.grad is not None])

    plain = critic_gradient()
    assert torch.equal(critic_gradient(), plain), "deterministic"
    assert not torch.allclose(critic_gradient(r1=10.0), plain)
    assert not torch.allclose(critic_gradient(diffaugment="translation"), plain)


# --- the mapping network: sliders and requests in W -------------------------------------------
@pytest.fixture(scope="module")
def w_gan(tmp_path_factory):
    from tests.conftest import single_thread

    with single_thread():
        out, _ = _train(tmp_path_factory.mktemp("w"), steps=4, mapping=2)
        return GANFamily.from_checkpoint(out)


def test_the_latent_basis_is_principal_directions_of_w(w_gan):
    gen = w_gan.generator
    basis = w_gan.basis
    assert w_gan.latent_dim == basis.dim == 8 and basis.names[0] == "PC1"
    np.testing.assert_allclose(basis.directions @ basis.directions.T, np.eye(len(basis)), atol=1e-5)
    w = mapped_latents(gen, 8)
    np.testing.assert_allclose(basis.origin, w.mean(0), atol=1e-5)
    np.testing.assert_allclose(gen.mapping.w_avg.numpy(), basis.origin, atol=1e-6)
    coords = (w - basis.origin) @ basis.directions.T
    np.testing.assert_allclose(coords.std(0, ddof=1), basis.scales, rtol=1e-3)
    assert not np.allclose(w, prior_latents(1, len(w), 8)), "w is not z"
    assert "w" in w_gan.pcs_source


def test_a_w_request_reproduces_and_a_slider_move_changes_the_image(w_gan):
    req = w_gan.default_request().with_(seed=7, batch_size=2)
    a, b = w_gan.generate(req), w_gan.generate(req)
    assert np.array_equal(a, b)
    w = w_gan.prior_latents(7, 1)[0]
    as_latent = req.with_(batch_size=1, latent=tuple(w.tolist()))
    assert np.array_equal(w_gan.generate(as_latent)[0], a[0]), "the seed's latent is w: the same image"
    coords, residual = w_gan.basis.to_coords(w)
    coords[0] += 2.0
    moved = w_gan.basis.to_latent(coords, residual)
    assert not np.array_equal(w_gan.generate(req.with_(batch_size=1, latent=tuple(moved.tolist())))[0], a[0])


def test_truncation_shrinks_w_towards_its_mean(w_gan):
    w_avg = w_gan.generator.mapping.w_avg.numpy()
    full, half = w_gan.prior_latents(3, 4), w_gan.prior_latents(3, 4, truncation=0.5)
    np.testing.assert_allclose(half, w_avg + 0.5 * (full - w_avg), atol=1e-6)
    flat = w_gan.generate(w_gan.default_request().with_(seed=3, batch_size=3, truncation=0.0))
    assert all(np.array_equal(flat[0], im) for im in flat)
    assert np.array_equal(flat[0], w_gan.decode(w_avg)[0]), "truncation 0: the image of the mean w"


def test_attribute_directions_are_fitted_on_w():
    torch.manual_seed(0)
    gen = Generator(GANConfig(image_size=32, channels=3, z_dim=24, g_channels=4, mapping=2)).eval()
    rows, fits = attribute_directions(gen, Reader(), 24, n=600)
    assert rows.shape == (len(gan_train.EDITS), 24)
    np.testing.assert_allclose(rows @ rows.T, np.eye(len(rows)), atol=1e-5)
    # on w: the same generator without its mapping network (reading z) gives other directions
    plain = Generator(GANConfig(image_size=32, channels=3, z_dim=24, g_channels=4)).eval()
    plain.load_state_dict({k: v for k, v in gen.state_dict().items() if not k.startswith("mapping.")})
    rows_z, _ = attribute_directions(plain, Reader(), 24, n=600)
    assert not np.allclose(np.abs(rows), np.abs(rows_z), atol=1e-3)
    assert set(fits) == set(gan_train.EDITS)


# --- old checkpoints, bounds, the command line -------------------------------------------------
def test_a_checkpoint_from_before_the_options_loads_and_decodes_z_as_before(tmp_path):
    path = make_tiny_gan(tmp_path / "old.safetensors")
    ck = checkpoint.load(path)
    old = {k: v for k, v in ck.config["gan"].items() if k != "mapping"}
    tensors = {f"{g}.{k}": v for g in ("ema", "latent") for k, v in ck.group(g).items()}
    path = checkpoint.save(tmp_path / "old2.safetensors", family="gan", config={**ck.config, "gan": old},
                           tensors=tensors, card={"id": "old2", "family": "gan"})
    fam = GANFamily.from_checkpoint(path)
    assert not fam.in_w and fam.generator.mapping is None
    z = prior_latents(5, 2, 8)
    np.testing.assert_array_equal(fam.prior_latents(5, 2, 0.5), z * 0.5)
    with torch.no_grad():  # the whole generator on z, as it always decoded
        np.testing.assert_array_equal(fam.decode(z), from_signed(fam.generator(torch.from_numpy(z))))
    assert np.array_equal(fam.decode(z), fam.generate(fam.default_request().with_(seed=5, batch_size=2)))
    assert "first layer" in fam.pcs_source


def test_config_and_option_bounds_refuse_bad_values():
    base = {"gan": {"image_size": 12, "channels": 3, "z_dim": 8, "g_channels": 4, "d_channels": 4}}
    gan_config.check_config(base)
    gan_config.check_config({"gan": {**base["gan"], "mapping": 8}})
    for bad in (9, -1, "2", 2.0, True):
        with pytest.raises(CheckpointError, match="gan.mapping"):
            gan_config.check_config({"gan": {**base["gan"], "mapping": bad}})
    for r1, mapping, d_lr, flag in [(-1.0, 0, None, "--r1"), (float("nan"), 0, None, "--r1"),
                                    (1e6, 0, None, "--r1"), (0.0, 9, None, "--mapping"),
                                    (0.0, -1, None, "--mapping"), (0.0, 0, 0.0, "--d-lr"),
                                    (0.0, 0, float("inf"), "--d-lr")]:
        with pytest.raises(StudioError, match=flag):
            gan_config.check_training_options(r1=r1, mapping=mapping, d_lr=d_lr)
    with pytest.raises(StudioError, match="--r1"):
        gan_task("faces", limit=4, r1=-1.0)
    with pytest.raises(ValueError):
        GANConfig(mapping=-1)


def test_the_train_command_takes_the_new_flags():
    from studio.cli import build_parser
    from studio.cli.train import recipe_from_args

    args = build_parser().parse_args(["train", "gan", "--diffaugment", "translation,cutout", "--r1", "10",
                                      "--mapping", "4", "--d-lr", "4e-4", "--out", "x.safetensors"])
    options = recipe_from_args(args).task_options()
    assert {k: options[k] for k in ("diffaugment", "r1", "mapping", "d_lr")} == {
        "diffaugment": "translation,cutout", "r1": 10.0, "mapping": 4, "d_lr": 4e-4}
    assert not {"diffaugment", "r1", "mapping"} & set(recipe_from_args(
        build_parser().parse_args(["train", "gan", "--out", "x.safetensors"])).task_options())
