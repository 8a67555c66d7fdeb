"""The genstudio command line, on a tiny checkpoint."""
import numpy as np
from PIL import Image

from studio.cli import main
from studio.store.pngmeta import read_settings


def test_generate_one_png_with_its_settings(tiny_ckpt, tmp_path):
    out = tmp_path / "x.png"
    assert main(["generate", "--prompt", "a sneaker", "--steps", "4", "--sampler", "ddim", "--seed", "9",
                 "--checkpoint", "tiny-diffusion", "--out", str(out), "--quiet"]) == 0
    req, index = read_settings(out)
    assert (req.prompt, req.steps, req.seed, req.checkpoint, index) == ("a sneaker", 4, 9, "tiny-diffusion", 0)
    assert req.checkpoint_hash and req.family == "diffusion"
    assert Image.open(out).size == (12, 12)


def test_generate_many_files_or_one_grid(tiny_ckpt, tmp_path):
    args = ["generate", "--prompt", "a bag", "--steps", "3", "--seed", "5", "--checkpoint", str(tiny_ckpt), "--quiet"]
    assert main(args + ["--num", "3", "--out", str(tmp_path / "many")]) == 0
    files = sorted((tmp_path / "many").glob("*.png"))
    assert len(files) == 3
    assert sorted(read_settings(f)[1] for f in files) == [0, 1, 2]
    assert main(args + ["--num", "4", "--grid", "--out", str(tmp_path / "grid.png")]) == 0
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape[0] > 24 and grid.shape[1] > 24
    assert len(list((tmp_path / "grid").glob("*.png"))) == 4, "the grid's images are written as they are made"


def test_models_lists_registered_checkpoints(tiny_ckpt, capsys):
    assert main(["models"]) == 0
    assert "tiny-diffusion" in capsys.readouterr().out


def test_bad_input_gives_a_message_not_a_traceback(tiny_ckpt, tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 50)
    assert main(["generate", "--checkpoint", str(bad), "--out", str(tmp_path / "y.png")]) == 2
    err = capsys.readouterr().err
    assert "genstudio:" in err and "Traceback" not in err
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--steps", "0", "--out", str(tmp_path / "z.png")]) == 2
    assert "Steps must be between 1 and 1000" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--num", "2", "--out", str(tmp_path / "z.png")]) == 2
    assert "give --out a folder" in capsys.readouterr().err
    assert main(["train", "diffusion", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "m.safetensors"),
                 "--steps", "1", "--quiet"]) == 2
    assert "dataset-fashion-mnist" in capsys.readouterr().err


from tests.conftest import needs_fmnist  # noqa: E402


@needs_fmnist
def test_train_diffusion_end_to_end_then_resume(tmp_path, data_dir, capsys):
    out = tmp_path / "m.safetensors"
    args = ["train", "diffusion", "--data", "fashion-mnist", "--limit", "64", "--batch-size", "16", "--channels", "8",
            "--out", str(out), "--checkpoint-every", "2", "--log-every", "1", "--quiet", "--precision", "fp32"]
    assert main(args + ["--steps", "3"]) == 0
    from studio.core import checkpoint

    card = checkpoint.read_card(out)
    assert card["training"]["steps_done"] == 3 and card["data"]["dataset"] == "fashion-mnist"
    assert card["reproduce"].startswith("genstudio train diffusion")
    assert main(args + ["--steps", "5", "--resume"]) == 0
    assert checkpoint.read_card(out)["training"]["steps_done"] == 5
    assert main(["generate", "--checkpoint", str(out), "--steps", "2", "--prompt", "a bag",
                 "--out", str(tmp_path / "g.png"), "--quiet"]) == 0
