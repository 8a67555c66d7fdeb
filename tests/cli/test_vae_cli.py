"""``genstudio generate --latent``, ``train vae`` and ``eval likelihood`` on tiny VAEs."""
import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.core import checkpoint
from studio.core.families.vae.family import VAEFamily, prior_latents
from studio.store.pngmeta import read_settings
from tests.conftest import needs_fmnist


@pytest.fixture(autouse=True)
def keep_threads():
    """--threads sets torch's global thread count; give the next test back the old one."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_generate_decodes_the_given_latent(tiny_vae, tmp_path):
    out = tmp_path / "z.png"
    assert main(["generate", "--checkpoint", "tiny-vae", "--latent=-0.5, 1.25", "--out", str(out), "--quiet"]) == 0
    req, index = read_settings(out)
    assert (req.family, req.checkpoint, req.latent, index) == ("vae", "tiny-vae", (-0.5, 1.25), 0)
    family = VAEFamily.from_checkpoint(tiny_vae)
    assert np.array_equal(np.asarray(Image.open(out)), family.decode(np.array([-0.5, 1.25]))[0, ..., 0])


def test_a_wrong_latent_or_option_is_a_message_not_a_traceback(tiny_vae, tmp_path, capsys):
    args = ["generate", "--checkpoint", "tiny-vae", "--out", str(tmp_path / "z.png"), "--quiet"]
    assert main(args + ["--latent", "1 2 3"]) == 2
    err = capsys.readouterr().err
    assert "--latent needs 2 values for tiny-vae (got 3)" in err and "Traceback" not in err
    assert main(args + ["--latent", "1 x"]) == 2
    assert "numbers separated by spaces or commas" in capsys.readouterr().err
    assert main(args + ["--latent", "1 99"]) == 2
    assert "latent value" in capsys.readouterr().err
    assert not (tmp_path / "z.png").exists()
    assert main(["train", "vae", "--latent-dim", "0", "--out", str(tmp_path / "v.safetensors"), "--quiet"]) == 2
    assert "latent size must be at least 1" in capsys.readouterr().err


def test_num_3_writes_the_images_of_seeds_s_to_s_plus_2(tiny_vae, tmp_path):
    assert main(["generate", "--checkpoint", "tiny-vae", "--seed", "7", "--num", "3", "--out", str(tmp_path / "many"),
                 "--quiet"]) == 0
    files = sorted((tmp_path / "many").glob("*.png"))
    assert len(files) == 3
    family = VAEFamily.from_checkpoint(tiny_vae)
    for f in files:
        req, i = read_settings(f)
        expected = family.decode(prior_latents(req.seed + i, 1, 2))[0, ..., 0]
        assert np.abs(np.asarray(Image.open(f)).astype(int) - expected).max() <= 1
    assert sorted(read_settings(f)[0].seed + read_settings(f)[1] for f in files) == [7, 8, 9]


@needs_fmnist
def test_train_vae_then_eval_likelihood(tmp_path, data_dir, capsys):
    out = tmp_path / "v.safetensors"
    assert main(["train", "vae", "--limit", "64", "--steps", "20", "--batch-size", "16", "--latent-dim", "2",
                 "--threads", "1", "--out", str(out), "--quiet"]) == 0
    card = checkpoint.read_card(out)
    assert card["reproduce"].startswith("genstudio train vae") and card["family"] == "vae"
    assert card["training"]["steps_done"] == 20 and card["config"]["vae"]["latent_dim"] == 2
    assert VAEFamily.from_checkpoint(out).latent_map.points.shape == (2000, 2)
    assert main(["eval", "likelihood", "--checkpoint", str(out), "--limit", "20", "--k", "5", "--threads", "1",
                 "--write-card", "--quiet"]) == 0
    assert "NLL (IWAE, k=5" in capsys.readouterr().out
    m = checkpoint.read_card(out)["metrics"]["likelihood"]
    assert m["iwae_k"] == 5 and m["settings"]["test_images"] == 20
    assert m["test_nll_iwae_nats"] <= -m["test_elbo_nats"] + 0.5  # IWAE is the tighter bound
    assert 0 < m["test_nll_iwae_bits_per_dim"] < 2 and m["reconstruction_bce_nats"] > 0
    assert checkpoint.read_card(out)["training"]["steps_done"] == 20  # the rest of the card survives


@needs_fmnist
def test_eval_likelihood_of_a_vae_not_shaped_like_fashion_mnist_is_a_message(tiny_vae, capsys):
    assert main(["eval", "likelihood", "--checkpoint", "tiny-vae", "--limit", "4", "--k", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "genstudio:" in err and "Traceback" not in err
