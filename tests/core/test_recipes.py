"""Training recipes: written once per family and data set, torch-free, found through the catalog, and
the numbers the shipped models' cards say they were trained with."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.catalog import CATALOG, FamilyInfo
from studio.core.errors import StudioError
from studio.core.training.recipes import (
    TRAINER_SETTINGS,
    Recipe,
    all_recipes,
    find_recipe,
    recipe_for,
    recipes_for,
    studio_recipes,
)
from studio.store.paths import resources_dir

ROOT = Path(__file__).resolve().parents[2]

# A toy family's recipes: its catalog entry's module is this test module (no ``.recipes`` beside it).
RECIPES = (Recipe("toy-dots", "toy", "dots", "Toy on dots", "toy", {"size": 3}, steps=7, batch_size=4, lr=0.5),)


def test_every_recipe_names_a_family_of_the_catalog_and_names_are_unique():
    recipes = all_recipes()
    assert {r.family for r in recipes} <= set(CATALOG)
    assert {"diffusion", "vae", "gan", "autoregressive"} <= {r.family for r in recipes}, "each ships its recipes"
    assert len({r.name for r in recipes}) == len(recipes)
    for family in CATALOG:
        assert all(r.family == family for r in recipes_for(family))


def test_recipes_are_read_without_torch():
    """The Training dock lists them when the window opens, before torch is loaded."""
    code = ("import sys; from studio.core.training.recipes import all_recipes; all_recipes(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", "importing a family's recipes.py must not load torch"


def _reproduce_flags(command: str) -> dict[str, str]:
    words = command.split()
    return {w: words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--") and not words[i + 1].startswith("--")}


@pytest.mark.parametrize("recipe", all_recipes(), ids=lambda r: r.name)
def test_each_recipe_is_how_its_shipped_model_was_trained(recipe):
    folder = "tokenizers" if recipe.command in ("vqvae", "autoencoder") else "checkpoints"  # parts, not generators
    card_path = resources_dir() / folder / f"{recipe.name}.json"
    if not card_path.is_file():
        pytest.skip(f"{recipe.name} is not shipped")
    card = json.loads(card_path.read_text())
    t = card["training"]
    assert (recipe.steps, recipe.batch_size, recipe.lr, recipe.precision, recipe.ema_decay, recipe.warmup) == (
        t["steps"], t["batch_size"], t["lr"], t["precision"], t["ema_decay"], t["warmup"])
    assert card["data"]["dataset"].split(" ")[0] == recipe.dataset.removesuffix("-latent")  # the images it encodes
    if folder == "checkpoints":
        assert card["family"] == recipe.family
        assert card["reproduce"].startswith(f"genstudio train {recipe.command}")
        flags = _reproduce_flags(card["reproduce"])
        assert flags.get("--data", recipe.dataset) == recipe.dataset
    config = card["config"]
    arch = {**config.get("unet", {}), **config.get("vae", {}), **config.get("gan", {}), **config.get("pixelcnn", {}),
            **config.get("transformer", {}), **config.get("vqvae", {})}
    if recipe.command == "autoencoder":
        arch = config["autoencoder"]
    names = {"base_channels": "base_channels", "width": "g_channels", "latent_dim": "latent_dim", "z_dim": "z_dim",
             "loss": "loss", "channels": "channels", "layers": "layers", "head": "head", "dim": "dim",
             "heads": "heads", "codes": "codes", "code_dim": "code_dim", "hidden": "hidden"}
    for option, value in recipe.options.items():
        if option in names and names[option] in arch:
            assert arch[names[option]] == value, option
    if "captions" in recipe.options:
        assert recipe.options["captions"] == bool(config.get("text_encoder"))
    if "arch" in recipe.options:
        assert config["arch"] == recipe.options["arch"]
    if "tokens" in recipe.options:
        assert bool(arch["context_dim"]) == recipe.options["tokens"]
    for option in ("prediction", "min_snr_gamma"):
        if option in recipe.options:
            assert card["recipe"][{"prediction": "prediction", "min_snr_gamma": "loss_weighting"}[option]] == (
                recipe.options[option] if option == "prediction" else f"min-SNR-{recipe.options[option]:g}")


def test_task_options_and_trainer_settings():
    gan = find_recipe("gan-faces")
    assert gan.task_options() == {"z_dim": 64, "width": 32, "loss": "hinge", "batch_size": 64, "lr": 2e-4}
    assert set(gan.trainer_settings()) == set(TRAINER_SETTINGS)
    assert find_recipe("GAN on Faces") is gan, "found by its dock label too"
    small = gan.with_(steps=10, width=8, lr=1e-3, d_lr=None)
    assert (small.steps, small.options["width"], small.task_options()["lr"]) == (10, 8, 1e-3)
    assert "d_lr" not in small.options and gan.options["width"] == 32, "the recipe itself is unchanged"
    assert find_recipe("vae-fmnist-32d-text").reads_prompts and not find_recipe("vae-fmnist-2d").reads_prompts
    assert find_recipe("diffusion-fmnist").reads_prompts
    assert not find_recipe("pixelcnn-fmnist").with_(captions=False).reads_prompts
    with pytest.raises(StudioError, match="No recipe named 'nope'"):
        find_recipe("nope")


def test_a_command_and_data_set_pick_a_recipe():
    assert recipe_for("diffusion").name == "diffusion-fmnist"
    assert recipe_for("diffusion", "shapes").name == "diffusion-shapes"
    assert recipe_for("gan", "faces").name == "gan-faces"
    other = recipe_for("vae", "shapes")  # no recipe for it: the default one, given that data set
    assert other.dataset == "shapes" and other.options["latent_dim"] == 2
    with pytest.raises(StudioError, match="No recipe trains"):
        recipe_for("nope")


def test_the_dock_recipes_are_the_ones_the_studio_can_train():
    labels = {r.label for r in studio_recipes()}
    assert labels == {"GAN on Faces", "GAN on Fashion-MNIST", "VAE (2-D latent) on Fashion-MNIST"}
    assert not any(r.reads_prompts for r in studio_recipes()), "the training worker gives no prompt encoder"


def test_a_family_registered_elsewhere_brings_its_recipes(monkeypatch):
    monkeypatch.setitem(CATALOG, "toy", FamilyInfo("toy", "Toy", frozenset(), module=__name__))
    assert recipes_for("toy") == list(RECIPES)
    assert find_recipe("toy-dots").task_options() == {"size": 3, "batch_size": 4}
    monkeypatch.setitem(CATALOG, "bare", FamilyInfo("bare", "Bare", frozenset(), module="studio.core.prompt"))
    assert recipes_for("bare") == []
    with pytest.raises(StudioError, match="Unknown model family"):
        recipes_for("nope")


def test_a_recipe_of_another_family_is_refused(monkeypatch):
    monkeypatch.setitem(CATALOG, "liar", FamilyInfo("liar", "Liar", frozenset(), module=__name__))
    with pytest.raises(StudioError, match="not a recipe of the liar family"):
        recipes_for("liar")
    with pytest.raises(ValueError, match="precision"):
        Recipe("x", "toy", "dots", "X", "toy", precision="fp16")


def test_the_training_dock_lists_the_recipes_and_starts_with_their_settings(qtbot):
    from studio.ui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert [panel.recipe.itemText(i) for i in range(panel.recipe.count())] == [r.label for r in studio_recipes()]
    panel.recipe.setCurrentText("GAN on Faces")
    recipe = find_recipe("gan-faces")
    assert panel.steps.value() == recipe.steps
    panel.steps.setValue(100)
    panel.extra_options = {"width": 8}
    with qtbot.waitSignal(panel.startRequested) as blocker:
        panel.start_button.click()
    family, dataset, out, steps, options, train, resume = blocker.args
    assert (family, dataset, steps, resume) == ("gan", "faces", 100, False) and out.endswith("my-model.safetensors")
    assert options == {**recipe.task_options(), "width": 8}
    assert {k: train[k] for k in TRAINER_SETTINGS if k != "warmup"} == {
        k: v for k, v in recipe.trainer_settings().items() if k != "warmup"}
    assert train["warmup"] == 10, "short runs warm up for a tenth of their steps"
