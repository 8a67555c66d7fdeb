"""The autoregressive family as the studio and the CLI use it: row-by-row frames with the undrawn
area marked, the request's sampling settings and redraws, and training/eval/generate commands."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.core.data import fashion_mnist
from studio.core.errors import CheckpointError, RequestError, StudioError
from studio.core.request import GenerationRequest
from studio.store.pngmeta import read_settings
from studio.store.registry import load_model
from tests.conftest import needs_fmnist


@pytest.fixture(autouse=True)
def keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def frames_of(model, **changes):
    return list(model.sample(model.default_request().with_(**changes)))


def test_pixelcnn_streams_one_frame_per_row_with_the_undrawn_area_marked(tiny_pixelcnn):
    model = load_model("tiny-pixelcnn")
    frames = frames_of(model, prompt="a boot", batch_size=2, seed=3)
    assert [f.step for f in frames] == list(range(1, 13)) and {f.total for f in frames} == {12}
    assert [f.unit for f in frames] == ["row"] * 12 and frames[-1].final and not frames[-2].final
    for f in frames[:-1]:
        assert f.sampled.shape == (12, 12) and f.sampled[:f.step].all() and not f.sampled[f.step:].any()
        shown = f.shown()
        assert shown.shape == (2, 12, 12, 3)
        assert np.array_equal(shown[:, :f.step], np.repeat(f.preview[:, :f.step], 3, axis=-1))
        undrawn = shown[:, f.step:]
        assert set(np.unique(undrawn)) <= {64, 92} and len(np.unique(undrawn)) == 2, "a checkerboard"
    last = frames[-1]
    assert last.sampled is None and np.array_equal(last.shown(), last.preview)
    assert last.preview.shape == (2, 12, 12, 1) and set(np.unique(last.preview)) <= {0, 255}


def test_cached_and_naive_give_the_same_image_and_temperature_zero_ignores_the_seed(tiny_pixelcnn,
                                                                                    tiny_ar_transformer):
    for name in ("tiny-pixelcnn", "tiny-ar-transformer"):
        model = load_model(name)
        req = model.default_request().with_(prompt="a shirt", seed=9, temperature=0.9, top_k=8)
        assert np.array_equal(model.generate(req), model.generate(req.with_(sampler="naive")))
        greedy = req.with_(temperature=0.0)
        assert np.array_equal(model.generate(greedy), model.generate(greedy.with_(seed=10)))
        assert not np.array_equal(model.generate(req), model.generate(req.with_(seed=10)))


def test_transformer_streams_rows_of_codes_and_decodes_them(tiny_ar_transformer):
    model = load_model("tiny-ar-transformer")
    assert model.arch == "transformer" and model.image_size == (12, 12)
    frames = frames_of(model, prompt="a bag", batch_size=3)
    assert [f.step for f in frames] == [1, 2, 3] and frames[-1].final
    assert frames[0].sampled[:4].all() and not frames[0].sampled[4:].any(), "a code row is 4 pixel rows"
    assert frames[-1].preview.shape == (3, 12, 12, 1) and frames[-1].preview.dtype == np.uint8


def test_a_redraw_keeps_every_pixel_before_it(tiny_pixelcnn):
    model = load_model("tiny-pixelcnn")
    req = model.default_request().with_(prompt="a dress", seed=4)
    base = model.generate(req).reshape(-1)
    once = model.generate(req.redrawn_from(50, 777)).reshape(-1)
    assert np.array_equal(once[:50], base[:50]) and not np.array_equal(once[50:], base[50:])
    twice_req = req.redrawn_from(50, 777).redrawn_from(90, 5)
    assert twice_req.redraws == ((50, 777), (90, 5))
    twice = model.generate(twice_req).reshape(-1)
    assert np.array_equal(twice[:90], once[:90])
    assert req.redrawn_from(50, 777).redrawn_from(20, 1).redraws == ((20, 1),), "an earlier click replaces later ones"


def test_transformer_redraws_map_pixels_to_the_codes_holding_them(tiny_ar_transformer):
    model = load_model("tiny-ar-transformer")
    # 12x12 pixels in a 3x3 code grid: pixel (5, 11) is in code (1, 2) = 5, pixel (6, 0) in code 3.
    assert model.code_redraws(((5 * 12 + 11, 7),)) == ((5, 7),)
    assert model.code_redraws(((5 * 12 + 11, 7), (6 * 12, 8))) == ((3, 8),)
    req = model.default_request().with_(seed=2)
    assert not np.array_equal(model.generate(req), model.generate(req.redrawn_from(0, 99)))


def test_an_input_image_is_completed_from_its_top_rows(tiny_pixelcnn, tiny_ar_transformer):
    from studio.store.inputs import store_input

    image = (np.random.default_rng(2).random((12, 12, 1)) * 255).astype(np.uint8)
    binary = np.where(image >= 128, 255, 0).astype(np.uint8)
    h = store_input(image)
    pixelcnn = load_model("tiny-pixelcnn")
    req = pixelcnn.default_request().with_(init_image=h, batch_size=2, seed=8)
    frames = list(pixelcnn.sample(req.with_(strength=0.5), init=image))
    half = frames[-1].preview
    assert np.array_equal(half[:, :6], np.stack([binary[:6]] * 2)), "the top half is the binarised input"
    assert not np.array_equal(half[0, 6:], binary[6:]) and not np.array_equal(half[0], half[1])
    assert np.array_equal(pixelcnn.generate(req.with_(strength=0.0), init=image)[0], binary)
    transformer = load_model("tiny-ar-transformer")
    codes = transformer.tokenizer.encode(torch.from_numpy(binary / 255.0).float().permute(2, 0, 1)[None])
    kept = transformer.generate(transformer.default_request().with_(init_image=h, strength=0.0), init=image)
    assert np.array_equal(kept, transformer.decode_codes(codes)), "strength 0: the input's own codes"
    with pytest.raises(StudioError, match="drop the image again"):
        big = np.zeros((28, 28, 1), np.uint8)
        pixelcnn.generate(req.with_(init_image=store_input(big)), init=big)


def test_bad_settings_and_checkpoints_are_clear_errors(tiny_pixelcnn, tmp_path):
    model = load_model("tiny-pixelcnn")
    with pytest.raises(StudioError, match="cached or naive"):
        frames_of(model, sampler="ddim")
    for change, message in [({"temperature": 9.0}, "Temperature"), ({"top_k": -1}, "top-k"),
                            ({"top_p": 0.0}, "top-p"), ({"redraws": ((30, 1), (10, 2))}, "increasing"),
                            ({"redraws": ((500, 1),)}, "inside the image")]:
        with pytest.raises(RequestError, match=message):
            model.default_request().with_(**change).validated()
    from studio.core import checkpoint

    ck = checkpoint.load(tiny_pixelcnn)
    bad = tmp_path / "bad.safetensors"
    checkpoint.save(bad, family="autoregressive", config={**ck.config, "arch": "lstm"}, tensors=ck.tensors)
    with pytest.raises(CheckpointError, match="arch is 'lstm'; it must be one of 'pixelcnn', 'transformer'"):
        load_model(str(bad))


def test_sampling_settings_round_trip_through_json_and_parameters():
    req = GenerationRequest(family="autoregressive", sampler="naive", temperature=0.7, top_k=5, top_p=0.9,
                            redraws=((10, 3), (40, 4294967295)))
    assert GenerationRequest.from_dict(json.loads(req.to_json())) == req
    assert GenerationRequest.from_parameters(req.to_parameters()) == req
    assert "Temperature: 0.7, Top k: 5, Top p: 0.9" in req.to_parameters()
    plain = GenerationRequest()
    assert "Temperature" not in plain.to_parameters() and "Redraws" not in plain.to_parameters()
    with pytest.raises(RequestError, match="redraws"):
        GenerationRequest.from_dict({"redraws": [[1, "x"]]})


def test_generate_with_sampling_options_writes_them_into_the_png(tiny_pixelcnn, tmp_path, capsys):
    out = tmp_path / "a.png"
    assert main(["generate", "--checkpoint", "tiny-pixelcnn", "--prompt", "a coat", "--temperature", "0.5",
                 "--top-p", "0.8", "--sampler", "naive", "--out", str(out), "--quiet"]) == 0
    req, _ = read_settings(out)
    assert (req.family, req.sampler, req.temperature, req.top_p) == ("autoregressive", "naive", 0.5, 0.8)
    assert np.array_equal(np.asarray(Image.open(out)), load_model("tiny-pixelcnn").generate(req)[0, ..., 0])
    assert main(["generate", "--checkpoint", "tiny-pixelcnn", "--sampler", "ddim", "--out", str(out), "--quiet"]) == 2
    assert "samples with cached or naive, not 'ddim'" in capsys.readouterr().err


@needs_fmnist
def test_train_pixelcnn_then_eval_its_exact_likelihood(tmp_path, data_dir, capsys):
    out = tmp_path / "pc.safetensors"
    assert main(["train", "pixelcnn", "--out", str(out), "--limit", "64", "--steps", "2", "--batch-size", "16",
                 "--channels", "4", "--layers", "1", "--head", "4", "--no-captions", "--precision", "fp32",
                 "--sample-every", "2", "--threads", "2", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", "likelihood", "--checkpoint", str(out), "--limit", "20", "--json", "--write-card"]) == 0
    m = json.loads(capsys.readouterr().out.split("\nwrote metrics")[0])
    assert m["exact"] and m["settings"]["test_images"] == 20
    # An untrained binary model is near a coin flip per pixel: 784 ln 2 = 543 nats.
    assert 400 < m["test_nll_nats"] < 700
    assert m["test_nll_bits_per_dim"] == pytest.approx(m["test_nll_nats"] / (784 * np.log(2)))
    from studio.core.evaluation.classifier import load_classifier
    from studio.core.evaluation.quality import shown_reference
    from studio.store.paths import resources_dir

    model = load_model(str(out))
    shown, what = model.as_shown(fashion_mnist.load("test").images)  # binary samples are set against binarised real images
    assert shown.shape == (10_000, 28, 28, 1) and set(np.unique(shown)) == {0, 255} and "binarised" in what
    clf = load_classifier(resources_dir() / "classifiers" / "fmnist-classifier.safetensors")
    ref = shown_reference(clf, shown, what, num_samples=200)
    assert 0.3 < ref["accuracy"] < 0.9 and ref["fid_classifier_same_n"] > 1 and ref["settings"]["fd_images"] == 200
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["metrics"]["likelihood"]["test_nll_nats"] == m["test_nll_nats"]
    assert card["config"]["arch"] == "pixelcnn" and "train pixelcnn" in card["reproduce"]


@needs_fmnist
def test_train_vqvae_then_transformer_then_eval_and_generate(tmp_path, data_dir, capsys):
    vq, tr = tmp_path / "vq.safetensors", data_dir / "checkpoints" / "tr.safetensors"
    common = ["--limit", "64", "--steps", "2", "--batch-size", "16", "--threads", "2", "--quiet"]
    assert main(["train", "vqvae", "--out", str(vq), "--codes", "8", "--code-dim", "4", "--hidden", "8", *common]) == 0
    assert main(["train", "ar-transformer", "--tokenizer", str(vq), "--out", str(tr), "--dim", "16", "--layers", "1",
                 "--heads", "2", "--no-captions", "--precision", "fp32", *common]) == 0
    capsys.readouterr()
    assert main(["eval", "likelihood", "--checkpoint", "tr", "--limit", "20"]) == 0
    text = capsys.readouterr().out
    assert "upper bound" in text and "bits/code" in text and "-log p(x | codes)" in text
    model = load_model("tr")
    assert model.arch == "transformer" and model.tokenizer.config.codes == 8, "the tokenizer travels inside"
    shown, what = model.as_shown(fashion_mnist.load("test").images)
    assert shown.shape == (10_000, 28, 28, 1) and "encoded to codes and decoded" in what
    assert main(["generate", "--checkpoint", "tr", "--num", "2", "--grid", "--out", str(tmp_path / "g.png"),
                 "--quiet"]) == 0
    assert Image.open(tmp_path / "g.png").size[0] > 28
    assert main(["train", "ar-transformer", "--tokenizer", str(tmp_path / "none.safetensors"), "--out",
                 str(tmp_path / "x.safetensors"), *common]) == 2
    assert "none.safetensors does not exist" in capsys.readouterr().err
    assert main(["train", "ar-transformer", "--tokenizer", str(tr), "--out", str(tmp_path / "x.safetensors"), *common]) == 2
    assert "holds a autoregressive model, not a vqvae model" in capsys.readouterr().err
