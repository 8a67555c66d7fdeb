"""The Gated PixelCNN of 8-bit grey levels: its two heads (a 256-way softmax, PixelCNN++'s discretised
logistic mixture), training on the raw levels, sampling and completing grey images, its likelihood on
the raw test set; and binary checkpoints written before the head was a choice still load as binary."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from studio.core.errors import CheckpointError
from studio.core.families.autoregressive import config as ar_config
from studio.core.families.autoregressive.family import AutoregressiveFamily
from studio.core.families.autoregressive.pixelcnn import (
    OUTPUTS,
    GatedPixelCNN,
    PixelCNNConfig,
    levels_to_uint8,
    logistic_log_probs,
    quantize,
)
from studio.core.families.autoregressive.sampling import Sampling, pixelcnn_rows
from studio.core.training.trainer import TrainConfig, Trainer, TrainTask
from tests.conftest import make_tiny_pixelcnn, needs_fmnist


@pytest.fixture(autouse=True)
def one_thread_here(one_thread):
    yield


def grey_model(output: str, size: int = 8, mixtures: int = 3) -> GatedPixelCNN:
    torch.manual_seed(0)
    return GatedPixelCNN(PixelCNNConfig(image_size=size, levels=256, channels=8, layers=2, head=16, first_kernel=5,
                                        output=output, mixtures=mixtures))


def grey_checkpoint(tmp_path, output: str, **kw):
    path = make_tiny_pixelcnn(tmp_path / f"grey-{output}.safetensors", cond_dim=0, levels=256, output=output, **kw)
    return AutoregressiveFamily.from_checkpoint(path)


# --- the logistic head -----------------------------------------------------------------------------

def direct_logistic_probs(params: torch.Tensor, levels: int) -> torch.Tensor:
    """The mixture's mass on every level's bin, straight from the definition in float64: (B, levels, H, W)."""
    logit_w, mu, log_s = params.double().unflatten(1, (3, -1)).unbind(1)
    s = log_s.clamp(min=-7.0).exp()
    v = torch.linspace(-1, 1, levels, dtype=torch.float64).view(1, -1, 1, 1, 1)
    d = 1.0 / (levels - 1)
    cdf_hi = torch.sigmoid((v + d - mu[:, None]) / s[:, None])
    cdf_lo = torch.sigmoid((v - d - mu[:, None]) / s[:, None])
    cdf_hi[:, -1], cdf_lo[:, 0] = 1.0, 0.0  # the edge levels take all the mass beyond them
    return ((cdf_hi - cdf_lo) * logit_w.softmax(1)[:, None]).sum(2)


@pytest.mark.parametrize("levels", [256, 16])
def test_logistic_levels_sum_to_one_and_match_the_definition(levels):
    g = torch.Generator().manual_seed(0)
    k = 4
    params = torch.randn(2, 3 * k, 3, 3, generator=g)
    params[:, k:2 * k] *= 0.8  # means spread over [-1, 1], some beyond it
    params[:, 2 * k:] = params[:, 2 * k:] * 2 - 3  # log-scales from sharp (a level or two wide) to broad
    params[0, 2 * k:, 0, 0] = -9.0  # clamped at -7: far narrower than a bin, the mass-underflow fallback
    every = torch.arange(levels).view(1, -1, 1, 1)
    log_p = logistic_log_probs(params, every, levels)
    assert log_p.shape == (2, levels, 3, 3)
    p = log_p.double().exp()
    torch.testing.assert_close(p.sum(1), torch.ones(2, 3, 3, dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(p, direct_logistic_probs(params, levels), atol=1e-5, rtol=1e-3)
    at_x = logistic_log_probs(params, torch.randint(0, levels, (2, 1, 3, 3), generator=g), levels)
    assert at_x.shape == (2, 1, 3, 3), "one level per pixel: its log-probability alone"


def test_the_models_logits_are_the_heads_per_level_log_probabilities_and_give_its_nll():
    model = grey_model("logistic").eval()
    x = torch.randint(0, 256, (3, 1, 8, 8))
    with torch.no_grad():
        logits = model(x)
        assert logits.shape == (3, 256, 8, 8)
        torch.testing.assert_close(logits.exp().sum(1), torch.ones(3, 8, 8), atol=1e-4, rtol=0)
        full = F.cross_entropy(logits, x[:, 0], reduction="none").flatten(1).sum(1)
        torch.testing.assert_close(model.nll(x), full, rtol=1e-4, atol=1e-3)
        conds = model.cond_terms(None)
        h = model.features(x, model.vertical(x, conds), conds)
        torch.testing.assert_close(model.logits(h), logits)


def test_config_knows_the_heads_and_checks_them():
    assert ar_config.PIXELCNN_OUTPUTS == OUTPUTS
    with pytest.raises(ValueError, match="output"):
        PixelCNNConfig(output="sigmoid")
    assert grey_model("logistic", mixtures=5).head[-1].out_channels == 15
    assert grey_model("softmax").head[-1].out_channels == 256
    good = {"arch": "pixelcnn", "pixelcnn": {**PixelCNNConfig(levels=256, output="logistic").to_dict()}}
    ar_config.check_config(good)
    ar_config.check_config({"arch": "pixelcnn", "pixelcnn": {"levels": 2}})  # an old file: no head named
    for change, message in [({"output": "sigmoid"}, "output is 'sigmoid'; it must be one of 'softmax', 'logistic'"),
                            ({"output": 1}, "output is 1"), ({"mixtures": 0}, "mixtures is 0"),
                            ({"mixtures": 33}, "mixtures is 33"),
                            ({"levels": 256, "head": 1024, "channels": 64, "output": "softmax"}, None)]:
        bad = {"arch": "pixelcnn", "pixelcnn": {**good["pixelcnn"], **change}}
        if message is None:
            ar_config.check_config(bad)  # 1024 x 256 weights: well inside the cap
            continue
        with pytest.raises(CheckpointError, match=message):
            ar_config.check_config(bad)


# --- learning ------------------------------------------------------------------------------------------

def flat_greys(n: int, size: int = 8) -> torch.Tensor:
    """Images of one grey level each, 40, 120 or 200: after the first pixel, every pixel is known."""
    g = torch.Generator().manual_seed(0)
    return torch.tensor([40, 120, 200])[torch.randint(0, 3, (n,), generator=g)].view(n, 1, 1, 1).expand(
        n, 1, size, size).clone()


@pytest.mark.parametrize("output", OUTPUTS)
def test_a_tiny_grey_model_lowers_its_loss(output, tmp_path):
    model = grey_model(output).train()
    x = flat_greys(32)

    def loss(m, batch):
        nll = m.nll(batch)
        return nll.mean() / 64, {"nll": nll.mean().detach()}

    def endless():
        while True:
            yield x

    task = TrainTask(family="autoregressive", model=model, config={"arch": "test"}, loss=loss, batches=endless())
    cfg = TrainConfig(steps=60, lr=5e-3, warmup=5, log_every=5, precision="fp32", sample_every=10**6,
                      checkpoint_every=10**6)
    history = [ev.metrics["nll"] for ev in Trainer(task, cfg, tmp_path / "m.safetensors").run() if ev.kind == "step"]
    assert history[0] > 64 * 4.0, history  # untrained: near 8 bits (5.5 nats) a pixel
    assert history[-1] < 0.8 * history[0] and history[-1] == min(history), history


@needs_fmnist
@pytest.mark.parametrize("output", OUTPUTS)
def test_the_grey_task_trains_on_the_raw_levels(output, tmp_path):
    from studio.core.data import fashion_mnist
    from studio.core.families.autoregressive.train_pixelcnn import pixelcnn_task, signed_to_levels

    task = pixelcnn_task(None, captions=False, channels=8, layers=2, head=16, levels=256, output=output, mixtures=3,
                         batch_size=16, limit=64)
    assert task.config["pixels"] == "grey" and task.config["binarization"] == "none"
    assert task.config["pixelcnn"]["output"] == output and task.config["pixelcnn"]["levels"] == 256
    assert "raw 8-bit grey levels" in task.card["data"]["pixels"] and "binarization" not in task.card["data"]
    assert ("softmax" if output == "softmax" else "logistics") in task.card["objective"]
    x, _ = next(iter(task.batches))
    levels = signed_to_levels(x, 256)
    train = torch.tensor(fashion_mnist.load("train", limit=64).images).long()
    assert any(torch.equal(levels[0, 0], img) for img in train), "a batch holds the images' own levels"
    assert len(levels.unique()) > 100
    cfg = TrainConfig(steps=3, lr=3e-3, warmup=1, log_every=1, precision="bf16", sample_every=10**6,
                      checkpoint_every=10**6)
    bits = [ev.metrics["bits_per_dim"] for ev in Trainer(task, cfg, tmp_path / "g.safetensors").run()
            if ev.kind == "step"]
    assert len(bits) == 3 and all(2 < b < 12 for b in bits), bits  # untrained: some bits of the 8 a pixel holds


@needs_fmnist
def test_the_binary_task_still_binarises():
    from studio.core.families.autoregressive.train_pixelcnn import pixelcnn_task

    task = pixelcnn_task(None, captions=False, channels=4, layers=1, head=4, batch_size=8, limit=16)
    assert task.config["binarization"] == "dynamic" and "pixels" not in task.config
    assert task.config["pixelcnn"]["levels"] == 2 and task.card["objective"].endswith("in raster order")
    x, _ = next(iter(task.batches))
    assert set(x.unique().tolist()) == {0.0, 1.0}


# --- sampling and the family ------------------------------------------------------------------------------

@pytest.mark.parametrize("output", OUTPUTS)
def test_a_grey_checkpoint_draws_grey_images_the_same_with_either_sampler(output, tmp_path):
    model = grey_checkpoint(tmp_path, output)
    assert model.image_format.kind == "grey" and model.grey
    req = model.default_request().with_(batch_size=2, seed=5)
    frames = list(model.sample(req))
    assert len(frames) == 12 and frames[-1].final
    images = frames[-1].preview
    assert images.dtype == np.uint8 and images.shape == (2, 12, 12, 1)
    assert len(np.unique(images)) > 20, "grey levels, not two values"
    assert np.array_equal(model.generate(req), images)
    assert np.array_equal(model.generate(req.with_(sampler="naive")), images)
    hot = req.with_(temperature=0.7, top_k=40)
    assert np.array_equal(model.generate(hot), model.generate(hot.with_(sampler="naive")))


def test_cached_and_naive_rows_are_identical_for_a_grey_model():
    model = grey_model("logistic", size=6).eval()
    runs = [list(pixelcnn_rows(model, 2, 3, Sampling(top_p=0.9), cached=cached))[-1][1].clone()
            for cached in (True, False)]
    assert torch.equal(runs[0], runs[1]) and len(runs[0].unique()) > 2


def test_image_to_image_keeps_the_inputs_grey_levels(tmp_path):
    from studio.store.inputs import store_input

    model = grey_checkpoint(tmp_path, "logistic")
    image = (np.random.default_rng(1).random((12, 12, 1)) * 255).astype(np.uint8)
    req = model.default_request().with_(init_image=store_input(image), batch_size=2, seed=4)
    assert np.array_equal(model.generate(req.with_(strength=0.0), init=image)[0], image), "all of it kept"
    half = model.generate(req.with_(strength=0.5), init=image)
    assert np.array_equal(half[:, :6], np.stack([image[:6]] * 2)), "the top half is the input's own levels"
    assert not np.array_equal(half[0, 6:], image[6:])


def test_fewer_levels_quantise_the_input_and_show_as_uint8(tmp_path):
    path = make_tiny_pixelcnn(tmp_path / "grey16.safetensors", cond_dim=0, levels=16, output="logistic")
    model = AutoregressiveFamily.from_checkpoint(path)
    image = np.array([0, 8, 9, 127, 128, 255], np.uint8).reshape(1, 6)
    assert quantize(image[None], 16).flatten().tolist() == [0, 0, 1, 7, 8, 15]
    assert levels_to_uint8(torch.tensor([0, 1, 7, 15]).view(1, 1, 1, 4), 16).flatten().tolist() == [0, 17, 119, 255]
    shown, what = model.as_shown(np.stack([np.tile(image, (12, 2))]))
    assert set(np.unique(shown)) == {0, 17, 119, 136, 255} and "16 grey levels" in what
    images = model.generate(model.default_request().with_(batch_size=2))
    assert set(np.unique(images)) <= {17 * k for k in range(16)}


def test_grey_models_are_set_against_the_real_images_and_binary_ones_against_binarised(tmp_path):
    images = (np.random.default_rng(0).random((4, 12, 12)) * 255).astype(np.uint8)
    assert grey_checkpoint(tmp_path, "softmax").as_shown(images) is None, "shown as they are"
    binary = AutoregressiveFamily.from_checkpoint(make_tiny_pixelcnn(tmp_path / "b.safetensors", cond_dim=0))
    shown, what = binary.as_shown(images)
    assert set(np.unique(shown)) == {0, 255} and "binarised" in what


def test_an_old_binary_checkpoint_loads_and_draws_binary_pixels(tmp_path):
    from studio.core import checkpoint
    from studio.core.cards import check_family_config

    path = make_tiny_pixelcnn(tmp_path / "old.safetensors", cond_dim=0)
    ck = checkpoint.load(path)
    assert "output" not in ck.config["pixelcnn"] and "mixtures" not in ck.config["pixelcnn"]
    check_family_config("autoregressive", ck.config, path.name)
    model = AutoregressiveFamily.from_checkpoint(path)
    assert model.model.config.output == "softmax" and model.model.config.levels == 2 and not model.grey
    assert model.image_format.kind == "binary" and model.model.head[-1].out_channels == 2
    images = model.generate(model.default_request().with_(batch_size=2, seed=1))
    assert set(np.unique(images)) == {0, 255}
    assert "binary pixels" in model.eval_setup().settings["sampler"]


# --- the command line and the likelihood --------------------------------------------------------------------

def test_the_command_line_and_the_grey_recipe_set_levels_and_head():
    from studio.cli import build_parser
    from studio.cli.train import recipe_from_args
    from studio.core.training.recipes import find_recipe

    def parse(*words):
        args = build_parser().parse_args(["train", "pixelcnn", *words, "--out", "x.safetensors"])
        args.argv = []
        return recipe_from_args(args)

    r = parse("--levels", "256", "--output", "logistic", "--mixtures", "10")
    assert r.name == "pixelcnn-fmnist" and {k: r.options[k] for k in ("levels", "output", "mixtures")} == {
        "levels": 256, "output": "logistic", "mixtures": 10}
    assert "levels" not in parse().options, "the binary recipe stays as it was"
    grey = find_recipe("pixelcnn-fmnist-grey")
    assert grey.options["levels"] == 256 and grey.options["output"] == "logistic" and grey.reads_prompts
    assert parse("--recipe", "pixelcnn-fmnist-grey", "--output", "softmax").options == {**grey.options,
                                                                                       "output": "softmax"}
    assert find_recipe("pixelcnn-fmnist").options == {"arch": "pixelcnn", "channels": 32, "layers": 7, "head": 64,
                                                       "captions": True}


@needs_fmnist
def test_a_grey_model_is_scored_on_the_raw_test_levels(tmp_path):
    from studio.core.data import fashion_mnist

    path = make_tiny_pixelcnn(tmp_path / "g28.safetensors", cond_dim=0, image_size=28, levels=256,
                              output="logistic")
    model = AutoregressiveFamily.from_checkpoint(path)
    m = model.likelihood(limit=10)
    assert m["exact"] and m["settings"]["binarization"] == "none" and "grey" in m["settings"]["pixels"]
    x = torch.tensor(fashion_mnist.load("test", limit=10).images).long()[:, None]
    with torch.no_grad():
        direct = float(model.model.nll(x).mean())
    assert m["test_nll_nats"] == pytest.approx(direct, rel=1e-5)
    assert m["test_nll_bits_per_dim"] == pytest.approx(direct / (784 * np.log(2)), rel=1e-5)
    json.dumps(m)


@needs_fmnist
def test_train_a_grey_pixelcnn_from_the_command_line(tmp_path, data_dir, capsys):
    from studio.cli import main

    out = tmp_path / "pc.safetensors"
    assert main(["train", "pixelcnn", "--out", str(out), "--limit", "32", "--steps", "2", "--batch-size", "8",
                 "--channels", "4", "--layers", "1", "--head", "8", "--no-captions", "--precision", "fp32",
                 "--levels", "256", "--output", "logistic", "--mixtures", "4", "--sample-every", "1000",
                 "--threads", "1", "--quiet"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["config"]["pixelcnn"]["output"] == "logistic" and card["config"]["pixelcnn"]["mixtures"] == 4
    assert card["config"]["pixels"] == "grey" and "--levels 256" in card["reproduce"]
    model = AutoregressiveFamily.from_checkpoint(out)
    assert model.grey and model.image_format.kind == "grey"
