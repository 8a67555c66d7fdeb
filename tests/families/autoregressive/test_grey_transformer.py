"""The image transformer over a grey tokenizer: a VQ-VAE whose decoder is a discretised logistic over the
256 grey levels (finer 14x14 codes with ``downsample`` 2), trained on the raw levels; the transformer
trained over its codes of grey images, drawing, completing and scoring grey images; and binary
tokenizers and transformers written before the decoder was a choice load and behave as before."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from studio.core import checkpoint
from studio.core.errors import CheckpointError, StudioError
from studio.core.families.autoregressive import config as ar_config
from studio.core.families.autoregressive import vqvae
from studio.core.families.autoregressive.family import AutoregressiveFamily
from studio.core.families.autoregressive.vqvae import VQVAE, VQVAEConfig
from studio.core.pixels import to_unit
from studio.core.training.trainer import TrainConfig, Trainer
from tests.conftest import make_tiny_ar_transformer, needs_fmnist


@pytest.fixture(autouse=True)
def one_thread_here(one_thread):
    yield


def grey_tokenizer(**kw) -> VQVAE:
    torch.manual_seed(0)
    return VQVAE(VQVAEConfig(image_size=12, hidden=8, codes=16, code_dim=4, likelihood="logistic", **kw)).eval()


def grey_transformer(tmp_path, name: str = "grey", **kw) -> AutoregressiveFamily:
    path = make_tiny_ar_transformer(tmp_path / f"{name}.safetensors", cond_dim=0, likelihood="logistic", **kw)
    return AutoregressiveFamily.from_checkpoint(path)


def grey_images(n: int, size: int = 12, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, size, size, 1)) * 255).astype(np.uint8)


# --- the logistic decoder -------------------------------------------------------------------------------

@pytest.mark.parametrize("mixtures,channels", [(1, 1), (3, 1), (2, 3)])
def test_the_decoders_levels_sum_to_one_and_give_its_nll_and_mean(mixtures, channels):
    vq = grey_tokenizer(mixtures=mixtures, channels=channels)
    with torch.no_grad():  # a decoder sure of its levels, as a trained one is
        vq.decoder[-1].bias.view(channels, 3, mixtures)[:, 2] = -4.0
        codes = torch.randint(0, 16, (2, 3, 3))
        assert vq.decode_logits(codes).shape == (2, channels * 3 * mixtures, 12, 12)
        log_p = vq.level_log_probs(codes)
        assert log_p.shape == (2, channels, 256, 12, 12)
        p = log_p.double().exp()
        torch.testing.assert_close(p.sum(2), torch.ones(2, channels, 12, 12, dtype=torch.float64), atol=1e-4, rtol=0)
        x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, channels, 12, 12)))
        direct = -log_p.gather(2, x[:, :, None]).sum((1, 2, 3, 4))
        torch.testing.assert_close(vq.nll(x.float() / 255, codes), direct, rtol=1e-5, atol=1e-3)
        mean = (p * torch.arange(256, dtype=torch.float64).view(1, 1, -1, 1, 1)).sum(2) / 255
        torch.testing.assert_close(vq.decode_unit(codes).double(), mean, atol=1e-4, rtol=0)


def test_a_grey_tokenizers_loss_is_its_nll_and_a_binary_ones_is_bernoulli():
    x = torch.from_numpy(grey_images(3)).float().permute(0, 3, 1, 2) / 255
    grey = grey_tokenizer()
    with torch.no_grad():
        _, terms = grey(x)
        assert terms["recon"] == pytest.approx(float(grey.nll(x, grey.encode(x)).mean()), rel=1e-5)
        with pytest.raises(ValueError, match="no grey levels"):
            VQVAE(VQVAEConfig(image_size=12, hidden=8, codes=16, code_dim=4)).level_log_probs(grey.encode(x))
        binary = VQVAE(VQVAEConfig(image_size=12, hidden=8, codes=16, code_dim=4)).eval()
        b = (x > 0.5).float()
        codes = binary.encode(b)
        logits = binary.decode_logits(codes)
        assert logits.shape == (3, 1, 12, 12)
        torch.testing.assert_close(binary.decode_unit(codes), torch.sigmoid(logits))
        bce = F.binary_cross_entropy_with_logits(logits, b, reduction="none").flatten(1).sum(1)
        torch.testing.assert_close(binary.nll(b, codes), bce)


def test_a_bf16_step_keeps_the_logistic_parameters_in_float32():
    vq = grey_tokenizer()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = vq.decode_logits(torch.zeros(1, 3, 3, dtype=torch.long))
    assert out.dtype == torch.float32


def test_downsample_2_gives_a_finer_grid_with_the_same_weight_names():
    coarse, fine = grey_tokenizer(), grey_tokenizer(downsample=2)
    assert (coarse.config.grid, fine.config.grid) == (3, 6)
    assert coarse.state_dict().keys() == fine.state_dict().keys()
    x = torch.rand(2, 1, 12, 12)
    with torch.no_grad():
        codes = fine.encode(x)
        assert codes.shape == (2, 6, 6) and fine.decode_unit(codes).shape == (2, 1, 12, 12)


# --- configs and their bounds --------------------------------------------------------------------------------

def test_configs_know_the_new_fields_and_refuse_bad_values():
    assert ar_config.VQVAE_LIKELIHOODS == vqvae.LIKELIHOODS and ar_config.VQVAE_DOWNSAMPLES == vqvae.DOWNSAMPLES
    for bad in ({"likelihood": "gaussian"}, {"downsample": 3}, {"mixtures": 0}):
        with pytest.raises(ValueError, match="likelihood must be one of"):
            VQVAEConfig(**bad)
    assert VQVAEConfig.from_dict({"image_size": 28, "codes": 8}).likelihood == "bernoulli", "old files: Bernoulli"
    vq = VQVAEConfig(likelihood="logistic", downsample=2, codes=256)
    good = {"arch": "transformer", "transformer": {"vocab": 256, "grid": 14}, "vqvae": vq.to_dict()}
    ar_config.check_config(good)
    ar_config.check_config({"arch": "transformer", "transformer": {}, "vqvae": {}})  # an old file's defaults
    for section, change, message in [
            ("vqvae", {"likelihood": "gaussian"}, "likelihood is 'gaussian'; it must be one of 'bernoulli', 'logistic'"),
            ("vqvae", {"likelihood": 1}, "likelihood is 1"),
            ("vqvae", {"downsample": 3}, "downsample is 3; it must be one of 2, 4"),
            ("vqvae", {"downsample": True}, "downsample is True"),
            ("vqvae", {"mixtures": 0}, "mixtures is 0"), ("vqvae", {"mixtures": 33}, "mixtures is 33"),
            ("vqvae", {"image_size": 30, "downsample": 4}, "image_size is 30"),
            ("vqvae", {"downsample": 4}, "transformer.grid is 14; it must be the VQ-VAE's code grid "
                                         r"\(image_size / 4 = 7\)"),
            ("transformer", {"grid": 7}, r"image_size / 2 = 14")]:
        bad = json.loads(json.dumps(good))
        bad[section].update(change)
        with pytest.raises(CheckpointError, match=message):
            ar_config.check_config(bad)


# --- training ------------------------------------------------------------------------------------------------

def steps(task, n: int, tmp_path, name: str, lr: float = 3e-3) -> list[dict]:
    cfg = TrainConfig(steps=n, lr=lr, warmup=2, log_every=1, precision="fp32", ema_decay=0.0, sample_every=10**6,
                      checkpoint_every=10**6)
    return [ev.metrics for ev in Trainer(task, cfg, tmp_path / f"{name}.safetensors").run() if ev.kind == "step"]


@needs_fmnist
def test_a_tiny_grey_tokenizer_then_transformer_train_on_the_raw_grey_levels(tmp_path):
    from studio.core.data import fashion_mnist
    from studio.core.families.autoregressive.train_transformer import transformer_task, vqvae_task

    torch.manual_seed(0)
    task = vqvae_task(codes=16, code_dim=4, hidden=8, likelihood="logistic", batch_size=16, limit=16)
    assert task.config["vqvae"]["likelihood"] == "logistic" and task.config["binarization"] == "none"
    assert task.config["pixels"] == "grey" and "raw 8-bit grey levels" in task.card["data"]["pixels"]
    assert "logistic" in task.card["objective"] and "binarization" not in task.card["data"]
    x, _ = next(iter(task.batches))
    assert 0 <= float(x.min()) and float(x.max()) <= 1 and len(x.unique()) > 100, "grey, not binarised"
    levels = (x * 255).round()
    assert float((x * 255 - levels).abs().max()) < 1e-3, "the uint8 levels / 255, as the decoder rounds them back"
    train = torch.tensor(fashion_mnist.load("train", limit=16).images).float()
    assert any(torch.equal(levels[0, 0], img) for img in train), "a batch holds the images' own levels"
    history = [m["recon"] for m in steps(task, 40, tmp_path, "vq", lr=3e-2)]
    assert history[-1] < 0.9 * history[0] and history[-1] < min(history[:-5]), history

    def transformer(**kw):
        return transformer_task(str(tmp_path / "vq.safetensors"), None, captions=False, dim=16, layers=1, heads=2,
                                batch_size=16, limit=64, **kw)

    tr = transformer(grey=True)
    assert tr.config["binarization"] == "none" and tr.config["pixels"] == "grey"
    assert "grey tokenizer" in tr.card["data"]["tokens"] and "raw 8-bit" in tr.card["data"]["pixels"]
    history = [m["nll_codes"] for m in steps(tr, 30, tmp_path, "tr", lr=1e-2)]
    assert np.mean(history[-5:]) < 0.6 * np.mean(history[:5]), history
    model = AutoregressiveFamily.from_checkpoint(tmp_path / "tr.safetensors")
    assert model.grey and model.tokenizer.config.grey
    images = model.generate(model.default_request().with_(batch_size=2))
    assert images.dtype == np.uint8 and len(np.unique(images)) > 2
    with pytest.raises(StudioError, match="is a grey \\(logistic\\) tokenizer; this recipe needs a binary one"):
        transformer(grey=False)


@needs_fmnist
def test_a_binary_tokenizer_still_trains_on_binarised_images():
    from studio.core.families.autoregressive.train_transformer import vqvae_task

    task = vqvae_task(codes=8, code_dim=4, hidden=8, batch_size=8, limit=16)
    assert task.config["likelihood"] == "bernoulli" and task.config["binarization"] == "dynamic"
    assert "pixels" not in task.config and task.card["objective"].startswith("Bernoulli")
    x, _ = next(iter(task.batches))
    assert set(x.unique().tolist()) == {0.0, 1.0}
    with pytest.raises(StudioError, match="Invalid VQ-VAE settings"):
        vqvae_task(likelihood="gaussian", limit=16)


# --- the family: drawing, completing, showing ----------------------------------------------------------------

@pytest.mark.parametrize("downsample", [4, 2])
def test_a_grey_transformer_draws_grey_images_the_same_with_either_sampler(downsample, tmp_path):
    model = grey_transformer(tmp_path, downsample=downsample)
    grid = 12 // downsample
    assert model.grey and model.levels == 256 and model.image_format.kind == "grey"
    assert model.model.config.grid == grid and "grey VQ-VAE decoder" in model.eval_setup().settings["sampler"]
    req = model.default_request().with_(batch_size=2, seed=5)
    frames = list(model.sample(req))
    assert [f.step for f in frames] == list(range(1, grid + 1)) and frames[-1].final
    assert frames[0].sampled[:downsample].all() and not frames[0].sampled[downsample:].any()
    images = frames[-1].preview
    assert images.dtype == np.uint8 and images.shape == (2, 12, 12, 1) and len(np.unique(images)) > 2
    assert np.array_equal(model.generate(req.with_(sampler="naive")), images)
    hot = req.with_(temperature=0.7, top_k=5)
    assert np.array_equal(model.generate(hot), model.generate(hot.with_(sampler="naive")))


def test_image_to_image_encodes_the_inputs_grey_levels(tmp_path):
    from studio.store.inputs import store_input

    model = grey_transformer(tmp_path)
    image = grey_images(1)[0]
    grey_codes = model.tokenizer.encode(to_unit(image[None]))
    req = model.default_request().with_(init_image=store_input(image), batch_size=2, seed=4)
    kept = model.generate(req.with_(strength=0.0), init=image)
    assert np.array_equal(kept, np.concatenate([model.decode_codes(grey_codes)] * 2)), "the grey image's codes"
    shown, what = model.as_shown(image[None])
    assert np.array_equal(shown[0], kept[0]) and what == "grey, not binarised, encoded to codes and decoded"
    prefix, start = model.completion(req.with_(strength=0.5), image)
    assert start == 2 * 3, "two of the three rows of codes kept (round(1.5) = 2)"
    assert torch.equal(prefix[0], grey_codes.flatten())
    half = model.generate(req.with_(strength=0.5), init=image)
    assert half.shape == (2, 12, 12, 1) and not np.array_equal(half[0], half[1])


def test_real_images_are_shown_through_the_grey_tokenizer_without_binarising(tmp_path):
    model = grey_transformer(tmp_path)
    images = grey_images(3)[..., 0]
    shown, what = model.as_shown(images)
    with torch.no_grad():
        expected = model.decode_codes(model.tokenizer.encode(to_unit(images)))
    assert np.array_equal(shown, expected) and "not binarised" in what


# --- binary files from before ----------------------------------------------------------------------------------

def test_an_old_binary_transformer_loads_and_behaves_as_before(tmp_path):
    from studio.core.cards import check_family_config
    from studio.core.families.autoregressive.train_transformer import TOKENIZER_FAMILY, load_tokenizer
    from studio.store.inputs import store_input

    path = make_tiny_ar_transformer(tmp_path / "old.safetensors", cond_dim=0)
    ck = checkpoint.load(path)
    assert not {"likelihood", "downsample", "mixtures"} & set(ck.config["vqvae"])
    check_family_config("autoregressive", ck.config, path.name)
    model = AutoregressiveFamily.from_checkpoint(path)
    c = model.tokenizer.config
    assert (c.likelihood, c.downsample, c.grid, model.levels, model.grey) == ("bernoulli", 4, 3, 2, False)
    assert model.tokenizer.decoder[-1].out_channels == 1
    codes = torch.randint(0, 16, (2, 3, 3))
    with torch.no_grad():
        means = torch.sigmoid(model.tokenizer.decoder(model.tokenizer.embed(codes)))
    assert np.array_equal(model.decode_codes(codes), (means * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())
    image = grey_images(1)[0]
    shown, what = model.as_shown(image[None])
    assert what == "binarised (seed 0), encoded to codes and decoded"
    binary = np.where(image >= 128, 255, 0).astype(np.uint8)
    kept = model.generate(model.default_request().with_(strength=0.0, init_image=store_input(binary)), init=binary)
    with torch.no_grad():
        assert np.array_equal(kept, model.decode_codes(model.tokenizer.encode(to_unit(binary[None]))))
    # An old tokenizer file (its config without the new fields) loads as the Bernoulli one it is.
    vq = VQVAE(VQVAEConfig(hidden=8, codes=8, code_dim=4))
    old = {k: v for k, v in vq.config.to_dict().items() if k not in ("likelihood", "downsample", "mixtures")}
    tok = checkpoint.save(tmp_path / "tok.safetensors", family=TOKENIZER_FAMILY, config={"vqvae": old},
                          tensors={f"ema.{k}": v for k, v in vq.state_dict().items()})
    loaded, _ = load_tokenizer(tok)
    assert loaded.config == vq.config and loaded.config.grid == 7 and not loaded.config.grey


# --- the likelihood and the command line -------------------------------------------------------------------------

@needs_fmnist
def test_a_grey_transformer_is_scored_on_the_raw_test_levels(tmp_path):
    from studio.core.data import fashion_mnist

    model = grey_transformer(tmp_path, "g28", image_size=28)
    m = model.likelihood(limit=10)
    assert m["settings"]["binarization"] == "none" and m["settings"]["pixels"] == "raw 8-bit grey levels"
    assert not m["exact"] and "upper bound" in m["bound"]
    x = torch.tensor(fashion_mnist.load("test", limit=10).images).float()[:, None] / 255
    with torch.no_grad():
        codes = model.tokenizer.encode(x)
        codes_nll = model.model.nll(codes.flatten(1))
        decoder = model.tokenizer.level_log_probs(codes)
        levels = (x * 255).round().long()
        recon = -decoder.gather(2, levels[:, :, None]).flatten(1).sum(1)
    assert m["codes_nll_nats"] == pytest.approx(float(codes_nll.mean()), rel=1e-5)
    assert m["decoder_nll_nats"] == pytest.approx(float(recon.mean()), rel=1e-4)
    total = float((codes_nll + recon).mean())
    assert m["test_nll_nats"] == pytest.approx(total, rel=1e-4)
    assert m["test_nll_bits_per_dim"] == pytest.approx(total / (784 * math.log(2)), rel=1e-4)
    json.dumps(m)


def test_the_command_line_and_the_grey_recipes():
    from studio.cli import build_parser
    from studio.cli.train import recipe_from_args
    from studio.core.training.recipes import find_recipe

    def parse(command, *words):
        extra = ["--tokenizer", "t.safetensors"] if command == "ar-transformer" else []
        args = build_parser().parse_args(["train", command, *words, "--out", "x.safetensors", *extra])
        args.argv = []
        return recipe_from_args(args)

    r = parse("vqvae", "--likelihood", "logistic", "--downsample", "2", "--codes", "256", "--mixtures", "2")
    assert r.name == "vqvae-fmnist" and {k: r.options[k] for k in ("likelihood", "downsample", "codes", "mixtures")} \
        == {"likelihood": "logistic", "downsample": 2, "codes": 256, "mixtures": 2}
    assert parse("vqvae").options == {"codes": 128, "code_dim": 32, "hidden": 64}, "the binary recipe as it was"
    with pytest.raises(SystemExit):
        parse("vqvae", "--downsample", "3")
    grey = find_recipe("vqvae-fmnist-grey")
    assert grey.options["likelihood"] == "logistic" and parse("vqvae", "--recipe", "vqvae-fmnist-grey") == grey
    tr = find_recipe("ar-transformer-fmnist-grey")
    assert tr.options["grey"] is True and tr.reads_prompts and parse("ar-transformer", "--recipe", tr.name) == tr
    assert "grey" not in find_recipe("ar-transformer-fmnist").options


@needs_fmnist
def test_train_the_grey_recipes_from_the_command_line(tmp_path, data_dir, capsys):
    from studio.cli import main

    vq, tr = tmp_path / "vq.safetensors", tmp_path / "tr.safetensors"
    common = ["--limit", "32", "--steps", "2", "--batch-size", "8", "--precision", "fp32", "--threads", "1",
              "--sample-every", "1000", "--quiet"]
    assert main(["train", "vqvae", "--recipe", "vqvae-fmnist-grey", "--out", str(vq), "--codes", "8", "--code-dim",
                 "4", "--hidden", "8", *common]) == 0
    card = json.loads(vq.with_suffix(".json").read_text())
    assert card["config"]["vqvae"]["likelihood"] == "logistic" and "--recipe vqvae-fmnist-grey" in card["reproduce"]
    assert main(["train", "ar-transformer", "--recipe", "ar-transformer-fmnist-grey", "--tokenizer", str(vq),
                 "--out", str(tr), "--dim", "16", "--layers", "1", "--heads", "2", "--no-captions", *common]) == 0
    assert AutoregressiveFamily.from_checkpoint(tr).grey
    binary = tmp_path / "bin.safetensors"
    assert main(["train", "vqvae", "--out", str(binary), "--codes", "8", "--code-dim", "4", "--hidden", "8",
                 *common]) == 0
    capsys.readouterr()
    assert main(["train", "ar-transformer", "--recipe", "ar-transformer-fmnist-grey", "--tokenizer", str(binary),
                 "--out", str(tmp_path / "x.safetensors"), "--no-captions", *common]) == 2
    assert "bin.safetensors is a binary (Bernoulli) tokenizer; this recipe needs a grey one" in capsys.readouterr().err


# --- resuming ----------------------------------------------------------------------------------------------------

@needs_fmnist
def test_grey_runs_resume_exactly(tmp_path):
    from studio.core.families.autoregressive.train_transformer import TOKENIZER_FAMILY, transformer_task, vqvae_task
    from tests.core.training.exact import FakeEncoder, assert_resume_is_exact

    assert_resume_is_exact(lambda: vqvae_task(codes=8, code_dim=4, hidden=8, likelihood="logistic", downsample=2,
                                              batch_size=8, limit=20), tmp_path / "vq", steps=6, cut_at=3, ema_decay=0.0)
    torch.manual_seed(0)
    cfg = VQVAEConfig(hidden=8, codes=8, code_dim=4, likelihood="logistic")
    tokenizer = checkpoint.save(tmp_path / "tok.safetensors", family=TOKENIZER_FAMILY, config={"vqvae": cfg.to_dict()},
                                tensors={f"ema.{k}": v for k, v in VQVAE(cfg).state_dict().items()})
    assert_resume_is_exact(lambda: transformer_task(str(tokenizer), FakeEncoder(), dim=8, layers=1, heads=2,
                                                    prefix=2, batch_size=8, limit=20),
                           tmp_path / "tr", steps=6, cut_at=3, cut="checkpoint")
