"""The measured comparison table on tiny models: every row for every column, "n/a" with a reason
where a characteristic does not apply, controls read from the declared capabilities, card figures
read with how they were measured, parameters counted, and a novelty check that tells copies from
new images."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from studio.core import checkpoint as ckpt_io
from studio.core.compare import ROWS, Cell, measure_table, nearest_neighbours
from studio.core.compare import table as t
from studio.core.errors import StudioError
from studio.core.events import Frame
from studio.core.families import load_family
from tests.conftest import make_tiny_checkpoint, make_tiny_gan, make_tiny_pixelcnn, make_tiny_vae, single_thread
from tests.families.toy import ToyFamily, make_toy_checkpoint, registered

TINY = (12, 12, 1)  # what the grey tiny models make


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    return [load_family(make(d / f"tiny-{name}.safetensors")) for name, make in
            (("diffusion", make_tiny_checkpoint), ("vae", make_tiny_vae), ("gan", make_tiny_gan),
             ("pixelcnn", make_tiny_pixelcnn))]


@pytest.fixture(scope="module")
def tiny_images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (40, *TINY), dtype=np.uint8), rng.integers(0, 256, (10, *TINY), dtype=np.uint8)


@pytest.fixture(scope="module")
def table(tiny_models, tiny_images):
    with single_thread():
        return measure_table(tiny_models, num_novelty=4, measure_speed=False, datasets={"tiny": tiny_images})


def by_family(models, table):
    return {m.name: c for m, c in zip(models, table.columns)}


def test_every_row_has_a_cell_for_every_column(tiny_models, table):
    assert table.columns == ["tiny-diffusion", "tiny-vae", "tiny-gan", "tiny-pixelcnn"]
    assert list(table.rows) == list(ROWS)
    for row, cells in table.rows.items():
        assert list(cells) == table.columns, row
        for column, cell in cells.items():
            assert cell.how.strip(), f"{row} / {column} says neither how it was measured nor why it does not apply"
            assert (cell.number is not None) == cell.applies or row == t.PRECISION_RECALL, (row, column)


def test_cells_that_do_not_apply_say_why(tiny_models, table):
    col = by_family(tiny_models, table)
    gan, diffusion = table.cell(t.ADHERENCE, col["gan"]), table.cell(t.FACES, col["diffusion"])
    assert not gan.applies and gan.text == "n/a: the GAN family takes no prompt"
    assert not diffusion.applies and diffusion.how == tiny_models[0].info.refusal("attributes")
    assert table.cell(t.ADHERENCE, col["vae"]).how == "this checkpoint was trained without prompts and ignores them"
    # the tiny diffusion model reads prompts, but nobody measured how well: say which command would
    assert "genstudio eval quality --checkpoint tiny-diffusion --write-card" in table.cell(t.ADHERENCE, col["diffusion"]).how
    assert "genstudio eval faces --checkpoint tiny-gan" in table.cell(t.FACES, col["gan"]).how
    for column in table.columns:
        assert table.cell(t.SPEED_1, column).text == "n/a: not measured (speed measurement switched off)"
        assert table.cell(t.QUALITY, column).how.startswith("no project classifier judges images of tiny")
        assert table.cell(t.TRAINING_TIME, column).how == "the card records no training run"
        assert table.cell(t.STABILITY, column).how == "the card records no training run"
    # the RGB GAN cannot be compared with the grey training images it is given
    assert table.cell(t.NOVELTY, col["gan"]).how.startswith("the model makes 12x12 rgb images, its data set's are 12x12")


def test_control_row_reflects_declared_capabilities(tiny_models, table):
    for model, column in zip(tiny_models, table.columns):
        text = table.cell(t.CONTROL, column).value
        assert ("latent sliders" in text) == model.can("decode"), column
        assert ("start from an image" in text) == model.can("img2img"), column
        assert ("redraw from a position" in text) == model.can("redraw"), column
        assert ("encode an image" in text) == model.can("encode"), column
        assert ("steps" in text) == ("steps" in model.controls), column
        assert text.startswith("prompt") == ("prompt" in model.controls), column
    col = by_family(tiny_models, table)
    assert "attribute edits (smile, glasses)" in table.cell(t.CONTROL, col["gan"]).value
    assert "prompt (ignored by this checkpoint)" in table.cell(t.CONTROL, col["vae"]).value
    assert "latent sliders (2-D)" in table.cell(t.CONTROL, col["vae"]).value


def weights(model) -> int:
    return sum(v.numel() for k, v in model.checkpoint.tensors.items() if k.startswith("ema."))


def test_resources_count_the_model_parameters(tiny_models, table):
    col = by_family(tiny_models, table)
    diffusion, vae, gan, pixelcnn = tiny_models
    # models without buffers: every stored weight is a parameter
    for model in (diffusion, vae, pixelcnn):
        assert table.cell(t.PARAMETERS, col[model.name]).number == weights(model) > 0, model.name
    # the GAN also stores buffers with its weights (batch-norm statistics): only parameters are counted
    params = sum(p.numel() for p in gan.generator.parameters())
    assert table.cell(t.PARAMETERS, col["gan"]).number == params and 0 < params < weights(gan)
    assert "Generator" in table.cell(t.PARAMETERS, col["gan"]).how
    for column in table.columns:
        assert table.cell(t.MACS, column).number > 0 and table.cell(t.MACS, column).value.endswith("MACs")
        assert table.cell(t.MEMORY, column).number >= 0 and "resident memory" in table.cell(t.MEMORY, column).how


def test_speed_is_measured_when_asked(tiny_models):
    with single_thread():
        table = measure_table(tiny_models[2:3], num_novelty=0, speed_runs=1)
    for row in (t.SPEED_1, t.SPEED_16):
        cell = table.cell(row, "tiny-gan")
        assert cell.number > 0 and cell.value.endswith(" ms/image") and "warm-up" in cell.how
    assert table.cell(t.NOVELTY, "tiny-gan").text == "n/a: not measured (no samples asked for)"


def test_card_figures_are_read_with_how_they_were_measured(tiny_models):
    gan = tiny_models[2]
    saved = gan.checkpoint.card
    edit = {"attribute": "smile", "change": 1.5, "others_change": {"glasses": 0.1, "hair": 0.3},
            "settings": {"latents": 50}}
    gan.checkpoint.card = {
        "training": {"steps_done": 500, "seconds": 5400.0, "batch_size": 64, "device": "cpu (x, 2 threads)",
                     "loss_history": [[i, 1.0 + (i % 2) * 0.1] for i in range(40)]},
        "metrics": {"quality": {"fid_face_classifier": 7.1, "fid_face_classifier_real_vs_real_same_n": 0.68,
                                "settings": {"samples": 2000}, "precision": 0.7, "recall": 0.4},
                    "attribute_edit": edit, "attribute_edits": {"smile": edit, "glasses": {**edit, "change": 0.5}}},
    }
    try:
        assert t.quality_cell(gan).value == "7.10 (n=2000, real 0.68)" and "Faces" in t.quality_cell(gan).how
        assert t.precision_recall_cell(gan).value == "precision 0.70, recall 0.40"
        gan.checkpoint.card["metrics"]["quality"] |= {"precision_recall_real": [0.75, 0.72],
                                                      "settings": {"samples": 2000, "precision_recall": "k=3"}}
        pr = t.precision_recall_cell(gan)
        assert pr.value == "precision 0.70, recall 0.40 (real 0.75, 0.72)" and pr.number == 0.7 and "k=3" in pr.how
        faces = t.facial_cell(gan)
        assert faces.value == "smile +1.50 (others 0.20); glasses +0.50 (others 0.20)" and faces.number == 1.5
        assert t.training_time_cell(gan).value == "1.5 h" and "500 steps" in t.training_time_cell(gan).how
        stability = t.stability_cell(gan)  # one run: the spread of its last logged losses, said to be one run
        assert stability.value.startswith("final loss 1.05 ±") and "one training run" in stability.how
        gan.checkpoint.card["stability"] = {"runs": [{"seed": 0, "fid_classifier": 6.0, "final_loss": 1.0},
                                                     {"seed": 1, "fid_classifier": 8.0, "final_loss": 1.2}]}
        stability = t.stability_cell(gan)
        assert stability.value == "fid classifier 7 ± 1.4; final loss 1.1 ± 0.14" and "2 training runs" in stability.how
    finally:
        gan.checkpoint.card = saved


def test_an_older_fashion_mnist_card_asks_for_the_evaluation_that_measures_precision(tiny_models):
    vae = tiny_models[1]
    saved = vae.checkpoint.card, vae.checkpoint.config["dataset"]
    vae.checkpoint.config["dataset"] = "fashion-mnist"
    vae.checkpoint.card = {"metrics": {"quality": {"fid_classifier": 5.5, "fid_classifier_train_vs_test_same_n": 0.31,
                                                   "prompt_accuracy": None, "settings": {"num_samples": 1000}}}}
    try:
        assert t.quality_cell(vae).value == "5.50 (n=1000, real 0.31)" and "Fashion-MNIST" in t.quality_cell(vae).how
        assert t.precision_recall_cell(vae).how == ("not measured (run genstudio eval quality --checkpoint tiny-vae "
                                                    "--write-card)")
    finally:
        vae.checkpoint.card, vae.checkpoint.config["dataset"] = saved


def test_progress_counts_every_part(tiny_models, tiny_images):
    calls = []
    with single_thread():
        measure_table(tiny_models[:2], num_novelty=0, measure_speed=False, progress=lambda *a: calls.append(a))
    assert calls[0] == ("tiny-diffusion: resources", 0, 6) and calls[-1] == ("done", 6, 6)
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)


def test_bad_arguments_are_refused(tiny_models):
    with pytest.raises(StudioError, match="Nothing to compare"):
        measure_table([])
    with pytest.raises(StudioError, match="novelty samples must be 0 or more"):
        measure_table(tiny_models[:1], num_novelty=-1)


# --- novelty ------------------------------------------------------------------------------------------
class Replay(ToyFamily):
    """A toy that "generates" training images: seed s makes training image s (a perfect memoriser)."""

    images: np.ndarray

    def frames(self, request, init, want_noisy) -> Iterator[Frame]:
        idx = [(request.seed + i) % len(self.images) for i in range(request.batch_size)]
        yield Frame(1, 1, self.images[idx], final=True)


class Noise(Replay):
    def frames(self, request, init, want_noisy) -> Iterator[Frame]:
        rng = np.random.default_rng(request.seed)
        yield Frame(1, 1, rng.integers(0, 256, (request.batch_size, 8, 8, 1), dtype=np.uint8), final=True)


@pytest.fixture
def toys(tmp_path):
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:8, :8]
    # smooth training images (as real ones are), so unseen smooth images are nearer to them than noise is
    train = np.stack([np.clip(128 + 100 * np.sin(xx / (1 + k % 5) + yy * (k % 3) / 4 + k), 0, 255)
                      for k in range(30)]).astype(np.uint8)[..., None]
    test = np.clip(train[:10].astype(int) + rng.integers(-20, 21, train[:10].shape), 0, 255).astype(np.uint8)
    with registered():
        made = []
        for cls, name in ((Replay, "replay"), (Noise, "noise")):
            model = cls(ckpt_io.load(make_toy_checkpoint(tmp_path / f"{name}.safetensors")), "cpu")
            model.images = train
            made.append(model)
        yield made, train, test


def test_a_model_that_copies_training_images_has_no_novelty(toys):
    (replay, noise), train, test = toys
    table = measure_table([replay, noise], num_novelty=6, measure_speed=False, seed=3, datasets={"toy": (train, test)})
    copies, new = table.cell(t.NOVELTY, "replay"), table.cell(t.NOVELTY, "noise")
    assert copies.number == pytest.approx(0.0, abs=1e-9) and copies.value.startswith("median 0.000 (closest 0.000)")
    assert new.number > 1.0 > copies.number  # noise is further from the training set than unseen real images
    nov = table.novelty["replay"]
    assert nov.nearest.tolist() == [3, 4, 5, 6, 7, 8]  # seed s + i made training image s + i
    np.testing.assert_array_equal(nov.neighbours, train[3:9])
    assert np.all(nov.reference > 0) and "pixel RMS" in copies.how
    # a toy keeps its weights in numpy: counted from the checkpoint's tensors; no torch work to count
    params = table.cell(t.PARAMETERS, "replay")
    assert params.number == sum(v.numel() for v in replay.checkpoint.tensors.values()) > 0
    assert "checkpoint's tensors" in params.how and not table.cell(t.MACS, "replay").applies


def test_nearest_neighbours_finds_exact_copies_and_refuses_other_shapes():
    rng = np.random.default_rng(2)
    train = rng.integers(0, 256, (50, 6, 6), dtype=np.uint8)
    dist, idx = nearest_neighbours(train[[7, 3]][..., None], train)
    assert idx.tolist() == [7, 3] and dist.tolist() == [0.0, 0.0]
    white = np.full((1, 6, 6, 1), 255, np.uint8)
    dist, idx = nearest_neighbours(white, train)
    expected = np.sqrt(((1.0 - train.reshape(50, -1) / 255.0) ** 2).mean(1))
    assert idx[0] == expected.argmin() and dist[0] == pytest.approx(expected.min())
    with pytest.raises(StudioError, match="samples are 6x6 with 3 channel"):
        nearest_neighbours(np.zeros((1, 6, 6, 3), np.uint8), train)


def test_novelty_says_why_without_training_images(tiny_models):
    cell, nov = t.novelty_cell(tiny_models[0], tiny_models[0].default_request(), 4,
                               lambda name, seed: t.training_images(name))
    assert nov is None and cell.text.startswith("n/a: No training images are known for the data set 'tiny'")


def test_cell_text():
    assert Cell("3 ms", 3.0, "timed").text == "3 ms"
    assert Cell.na("why").text == "n/a: why" and not Cell.na("why").applies
