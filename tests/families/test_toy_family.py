"""A family defined entirely in the tests (tests/families/toy.py) gets, with no edit to the studio
package, what a built-in family gets: the registry and ``load_model``, the CLI, the evaluations, the
recipes registry and the window's Model panel. (The family contract itself runs over it in
test_contract.py.) And the contract bites: toy variants that break a rule fail it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from studio.core.catalog import CATALOG
from studio.core.errors import StudioError
from studio.core.families import FAMILIES, get_family
from studio.store.pngmeta import read_settings
from studio.store.registry import load_model, scan
from tests.families import toy
from tests.families.contract import FamilyContract
from tests.ui.jobs import frames_of, run

TOY_ID = "toy-pattern"


def test_the_toy_is_registered_only_while_a_test_asks_for_it(data_dir):
    assert "toy" not in CATALOG and "toy" not in FAMILIES, "the rest of the suite sees the shipped catalog"
    path = toy.make_toy_checkpoint(data_dir / "checkpoints" / f"{TOY_ID}.safetensors")
    with pytest.raises(StudioError, match="Unknown model family 'toy'"):
        load_model(TOY_ID)  # a checkpoint of a family nobody registered: a plain message
    with toy.registered():
        assert CATALOG["toy"] is toy.TOY and get_family("toy") is toy.ToyFamily
        model = load_model(TOY_ID)
        assert isinstance(model, toy.ToyFamily) and model.checkpoint.path == path
        assert model.image_format.describe() == "8x8 grey" and model.latent_dim == 3
    assert "toy" not in CATALOG and "toy" not in FAMILIES


def test_the_registry_lists_the_toy(tiny_toy):
    infos, problems = scan()
    [info] = [i for i in infos if i.id == TOY_ID]
    assert (info.family, info.dataset, info.path) == ("toy", "toy", tiny_toy) and not problems


def test_genstudio_generate_writes_the_toys_pngs_and_models_lists_it(tiny_toy, tmp_path, capsys):
    from studio.cli import main

    out = tmp_path / "out"
    assert main(["generate", "--checkpoint", TOY_ID, "--out", str(out), "--num", "3", "--steps", "2",
                 "--seed", "4", "--quiet"]) == 0
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 3
    model = load_model(TOY_ID)
    expected = model.generate_many(model.default_request().with_(seed=4, steps=2), 3)
    for png, image in zip(pngs, expected):
        req, index = read_settings(png)
        assert (req.family, req.checkpoint, req.checkpoint_hash) == ("toy", TOY_ID, model.checkpoint.sha256)
        with Image.open(png) as im:
            pixels = np.asarray(im)[..., None]
        assert np.array_equal(pixels, image) and np.array_equal(model.generate(req)[index], image)
    capsys.readouterr()
    assert main(["models"]) == 0
    listed = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [TOY_ID, "toy", "toy", str(tiny_toy)] in listed
    assert main(["models", "--family", "toy"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == [TOY_ID]


def test_genstudio_generate_refuses_what_the_toy_cannot_do_with_the_catalog_message(tiny_toy, tmp_path, capsys):
    from studio.cli import main

    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    assert main(["generate", "--checkpoint", TOY_ID, "--init-image", str(image), "--out", str(tmp_path / "a.png"),
                 "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"genstudio: {toy.TOY.refusal('img2img')}"
    assert main(["generate", "--checkpoint", TOY_ID, "--latent=0.5,-1,2", "--steps", "2",
                 "--out", str(tmp_path / "z.png"), "--quiet"]) == 0
    req, _ = read_settings(tmp_path / "z.png")
    assert req.latent == (0.5, -1.0, 2.0)


def test_the_evaluations_sample_the_toy(tiny_toy):
    from studio.core.evaluation.quality import family_generator

    model = load_model(TOY_ID)
    generate, settings = family_generator(model, steps=3)
    images = generate("an ankle boot", 4, 7)
    assert images.shape == (4, *model.image_format.shape) == (4, 8, 8, 1) and images.dtype == np.uint8
    assert np.array_equal(images, model.generate_many(model.eval_setup().request.with_(seed=7), 4))
    assert np.array_equal(images[2], model.generate(model.default_request().with_(seed=9))[0])
    assert settings == {"sampler": "one pass"}


def test_the_recipes_registry_reads_the_toys_empty_recipes(tiny_toy):
    from studio.core.training.recipes import all_recipes, recipes_for

    assert recipes_for("toy") == []
    assert all(r.family != "toy" for r in all_recipes())
    with pytest.raises(StudioError, match="cannot be trained"):
        toy.ToyFamily.train_task("toy")


def test_the_model_panel_lists_the_toy(qtbot, tiny_toy):
    from studio.ui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.rescan()
    assert "Toy" in [panel.family.itemText(i) for i in range(panel.family.count())]
    assert panel.select("toy", TOY_ID)
    assert panel.family.currentText() == "Toy" and panel.family_info() is toy.TOY
    assert panel.current().id == TOY_ID and panel.current().path == tiny_toy


def test_the_window_opens_on_the_toy_and_its_latent_panel_loads_it(qtbot, tiny_toy, studio_window):
    with qtbot.capture_exceptions() as exceptions:
        window = studio_window("toy", TOY_ID)
        loaded = []
        window.latent.modelLoaded.connect(loaded.append)
        qtbot.waitUntil(lambda: bool(loaded or exceptions), timeout=60_000)
    assert not exceptions, "\n".join(str(e[1]) for e in exceptions)
    assert isinstance(loaded[0], toy.ToyFamily)
    # The panels follow its declaration: the latent docks (decode), no image-to-image row, no sampler.
    assert window.docks["Latent"].isVisible() and window.latent.panel.basis is not None
    assert not window.controls.form.isRowVisible(window.controls.ROWS.index("img2img"))

    # Generate through the window: the result, resolved by the worker, lands in the gallery.
    frames = frames_of(window)
    result = run(qtbot, window, lambda: qtbot.mouseClick(window.controls.generate_button, Qt.MouseButton.LeftButton))
    assert result.request.family == "toy" and result.request.checkpoint_hash == load_model(TOY_ID).checkpoint.sha256
    assert result.images.shape[1:] == (8, 8, 1) and len(frames) >= 1 and frames[-1].final
    item = window.store.items()[0]
    assert item.request == result.request
    assert np.array_equal(load_model(TOY_ID).generate(item.request), result.images)


# --- the contract bites: each broken toy fails the rule it breaks -----------------------------------
class ToyRules(FamilyContract):  # not collected: the toy's contract run is TestToyContract
    info = toy.TOY
    request_changes = {"steps": 2}


class SeedTimesTen(toy.ToyFamily):
    def prior_latents(self, seed, n, truncation=1.0):
        return super().prior_latents(seed * 10, n)  # image i is not image 0 of seed + i


class FinalEveryFrame(toy.ToyFamily):
    def frames(self, request, init, want_noisy):
        for f in super().frames(request, init, want_noisy):
            f.final = True
            yield f


class OwnEncodeMessage(toy.ToyFamily):
    def encode(self, images, prompt=""):
        raise StudioError("No encoder here.")  # not the catalog's message


class StepsIgnored(toy.ToyFamily):
    def frames(self, request, init, want_noisy):
        return super().frames(request.with_(steps=1), init, want_noisy)


@pytest.mark.parametrize("broken,rule,kwargs", [
    (SeedTimesTen, "test_image_i_of_a_batch_with_seed_s_is_image_0_of_seed_s_plus_i", {}),
    (SeedTimesTen, "test_generate_many_goes_past_one_batch_seed_by_seed", {}),
    (FinalEveryFrame, "test_one_frame_per_step_and_the_final_one_last", {}),
    (StepsIgnored, "test_one_frame_per_step_and_the_final_one_last", {}),
    (OwnEncodeMessage, "test_an_undeclared_capability_is_refused_with_the_catalog_message", {"undeclared": "encode"}),
], ids=["seeds-batch", "seeds-many", "final-every-frame", "steps-ignored", "own-refusal"])
def test_a_toy_that_breaks_a_rule_fails_the_contract(tiny_toy, broken, rule, kwargs):
    from studio.core.checkpoint import load

    rules = ToyRules()
    for family in (toy.ToyFamily, broken):
        model = family(load(tiny_toy), "cpu")
        req = model.default_request().with_(seed=rules.seed, **rules.request_changes)
        if family is toy.ToyFamily:
            getattr(rules, rule)(model, req, **kwargs)
            continue
        with pytest.raises(AssertionError):
            getattr(rules, rule)(model, req, **kwargs)
