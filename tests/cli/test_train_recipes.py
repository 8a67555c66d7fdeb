"""``genstudio train`` takes its defaults from the training recipes and calls the family's task builder
with them; ``genstudio models --card`` prints a model card; ``eval likelihood`` asks the model, not
its family's name."""
import pytest

from studio.cli import build_parser, main
from studio.cli.train import OPTION_FLAGS, recipe_from_args
from studio.core.catalog import CATALOG
from studio.core.errors import StudioError
from studio.core.training.recipes import all_recipes, command_recipes, find_recipe

COMMANDS = sorted({r.command for r in all_recipes() if r.family in ("diffusion", "vae", "gan", "autoregressive")})


def _parse(*words: str):
    args = build_parser().parse_args(["train", *words, "--out", "x.safetensors"]
                                     + (["--tokenizer", "t.safetensors"] if words[0] == "ar-transformer" else []))
    args.argv = []
    return args


@pytest.mark.parametrize("command", COMMANDS)
def test_every_train_command_defaults_to_its_recipe(command):
    assert set(OPTION_FLAGS) >= {command}, "each recipe's command is a subcommand with its option flags"
    assert recipe_from_args(_parse(command)) == command_recipes(command)[0]
    for recipe in command_recipes(command):
        assert recipe_from_args(_parse(command, "--recipe", recipe.name)) == recipe
        assert recipe_from_args(_parse(command, "--data", recipe.dataset)).dataset == recipe.dataset


def test_the_data_set_picks_the_recipe_and_flags_change_it():
    assert recipe_from_args(_parse("diffusion", "--data", "shapes")) == find_recipe("diffusion-shapes")
    assert recipe_from_args(_parse("gan", "--data", "faces")) == find_recipe("gan-faces")
    r = recipe_from_args(_parse("gan", "--data", "faces", "--steps", "9", "--width", "8", "--lr", "0.001"))
    assert (r.name, r.steps, r.options["width"], r.task_options()["lr"]) == ("gan-faces", 9, 8, 0.001)
    r = recipe_from_args(_parse("vae", "--recipe", "vae-fmnist-32d-text", "--no-captions"))
    assert r.options == {**find_recipe("vae-fmnist-32d-text").options, "captions": False} and not r.reads_prompts
    assert recipe_from_args(_parse("vae", "--captions")).reads_prompts
    assert recipe_from_args(_parse("pixelcnn", "--no-captions")).options["captions"] is False
    assert recipe_from_args(_parse("vqvae")).ema_decay == 0.0
    with pytest.raises(SystemExit):  # argparse offers only the command's own recipes
        _parse("vae", "--recipe", "gan-faces")
    args = _parse("vae")
    args.recipe = "gan-faces"
    with pytest.raises(StudioError, match="trains with 'genstudio train gan', not vae"):
        recipe_from_args(args)


def test_the_task_builder_is_given_the_recipe(monkeypatch, tmp_path, capsys):
    from studio.core.families import get_family

    seen = {}

    def train_task(cls, dataset, **options):
        seen.update(options, dataset=dataset)
        raise StudioError("stop here")

    monkeypatch.setattr(get_family("gan"), "train_task", classmethod(train_task))
    assert main(["train", "gan", "--data", "faces", "--steps", "3", "--limit", "8", "--z-dim", "16",
                 "--out", str(tmp_path / "g.safetensors"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == "genstudio: stop here"
    recipe = find_recipe("gan-faces")
    assert seen["dataset"] == "faces" and seen["limit"] == 8 and "encoder" not in seen
    assert {k: seen[k] for k in recipe.task_options()} == {**recipe.task_options(), "z_dim": 16}
    assert seen["command"].startswith("genstudio train gan --data faces")


def test_models_card_prints_the_model_card(tiny_vae, capsys):
    from studio.core.cards import read_card, write_card

    card = read_card(tiny_vae)
    card["metrics"] = {"likelihood": {"test_nll_iwae_nats": 250.5, "iwae_k": 7, "test_elbo_nats": -260.0,
                                      "test_nll_iwae_bits_per_dim": 0.46, "reconstruction_mse": 0.02,
                                      "settings": {"test_images": 5, "condition": "none"}}}
    card["reproduce"] = "genstudio train vae --latent-dim 2"
    write_card(tiny_vae, card)
    assert main(["models", "--card", "tiny-vae"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tiny-vae — vae, data: tiny\n")
    assert "NLL (IWAE, k=7)" in out and "250.50 nats" in out and "genstudio train vae --latent-dim 2" in out
    assert main(["models", "--card", "nope"]) == 2
    assert "No checkpoint named 'nope'" in capsys.readouterr().err


def test_models_lists_id_family_and_dataset(tiny_vae, tiny_gan, capsys):
    assert main(["models", "--family", "gan"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["id", "family", "dataset"]
    assert any(line.split()[:3] == ["tiny-gan", "gan", "tiny"] for line in lines)
    assert not any("tiny-vae" in line for line in lines)


def test_eval_likelihood_of_a_family_without_one_is_the_catalog_message(tiny_ckpt, capsys):
    assert main(["eval", "likelihood", "--checkpoint", "tiny-diffusion", "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"genstudio: {CATALOG['diffusion'].refusal('likelihood')}"


def test_the_parser_loads_no_torch():
    """``genstudio --help`` stays fast: the recipes it reads its defaults from are torch-free."""
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys; from studio.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_eval_faces_asks_for_attribute_directions_and_faces_images(tiny_vae, tiny_gan, capsys):
    assert main(["eval", "faces", "--checkpoint", "tiny-vae"]) == 2
    assert capsys.readouterr().err.strip() == f"genstudio: {CATALOG['vae'].refusal('attributes')}"
    assert main(["eval", "faces", "--checkpoint", "tiny-gan"]) == 2
    assert "tiny-gan does not make 32x32 colour images" in capsys.readouterr().err
