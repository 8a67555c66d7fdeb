"""``genstudio generate --init-image`` with every family's shipped checkpoint: the families that start
from an image complete it (in the model's own image format), the others say so in one line and exit 2
(no traceback, no file written)."""
import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.core.catalog import CATALOG
from studio.core.request import GenerationRequest
from studio.store.inputs import load_input
from studio.store.paths import resources_dir
from studio.store.pngmeta import read_settings
from studio.store.registry import find, load_model

SHIPPED = ["diffusion-fmnist", "diffusion-shapes", "vae-fmnist-2d", "vae-fmnist-32d-text", "gan-fmnist", "gan-faces",
           "pixelcnn-fmnist", "ar-transformer-fmnist"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not all((resources_dir() / "checkpoints" / f"{c}.safetensors").is_file() for c in SHIPPED),
    reason="the shipped checkpoints are not installed")]


@pytest.fixture
def source(tmp_path):
    """A light 40x30 RGB picture with a dark square: padded, resized and (for grey models) inverted."""
    a = np.full((30, 40, 3), 220, np.uint8)
    a[8:22, 12:28] = (20, 60, 200)
    path = tmp_path / "in.png"
    Image.fromarray(a).save(path)
    return path


@pytest.mark.parametrize("checkpoint", SHIPPED)
def test_init_image_with_every_shipped_checkpoint(checkpoint, source, data_dir, tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(["generate", "--checkpoint", checkpoint, "--init-image", str(source), "--prompt", "a bag",
                 "--steps", "2", "--seed", "3", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    info = CATALOG[find(checkpoint).family]
    if not info.can("img2img"):
        assert code == 2
        assert err.strip() == f"genstudio: {info.refusal('img2img')}", "one line: the catalog's message"
        assert "Traceback" not in err and not out.exists()
        return
    assert code == 0, err
    req, index = read_settings(out)
    model = load_model(checkpoint)
    fmt = model.image_format
    image = np.asarray(Image.open(out))
    image = image[..., None] if image.ndim == 2 else image
    assert image.shape == fmt.shape and index == 0
    steps = 2 if "steps" in info.controls else GenerationRequest.steps  # only what the family used is stored
    assert (req.checkpoint, req.steps, req.seed, req.strength) == (checkpoint, steps, 3, 0.6)
    start = load_input(req.init_image)  # the pixels it started from, kept by their hash
    assert start.shape == fmt.shape
    if fmt.kind == "binary":
        assert set(np.unique(image)) <= {0, 255}
    if checkpoint == "pixelcnn-fmnist":  # completes the image: the top 40% of its rows are the input's
        keep = round(0.4 * fmt.height)
        assert np.array_equal(image[:keep], np.where(start[:keep] >= 128, 255, 0))


def test_num_writes_each_file_as_its_batch_is_made_and_a_png_is_refused_before_loading(tiny_ckpt, tmp_path,
                                                                                       capsys):
    many = tmp_path / "many"
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--num", "18", "--steps", "1", "--out", str(many),
                 "--quiet"]) == 0
    files = sorted(many.glob("*.png"))
    assert len(files) == 18, "more than one batch (16) in one loop"
    assert sorted(read_settings(f)[0].seed + read_settings(f)[1] for f in files) == list(range(18))
    printed = capsys.readouterr().out.split()
    assert sorted(printed) == sorted(str(f) for f in files)
    assert main(["generate", "--checkpoint", "no-such-model", "--num", "2", "--out", str(tmp_path / "a.png")]) == 2
    assert "give --out a folder" in capsys.readouterr().err, "refused before the checkpoint is even looked up"


def test_a_latent_for_a_family_without_one_and_a_foreign_sampler_are_refused(tiny_ckpt, tiny_vae, tmp_path, capsys):
    out = tmp_path / "z.png"
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--latent", "1 2", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"genstudio: {CATALOG['diffusion'].refusal('decode')}"
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--sampler", "cached", "--out", str(out),
                 "--quiet"]) == 2
    assert f"samples with {' or '.join(CATALOG['diffusion'].samplers)}, not 'cached'" in capsys.readouterr().err
    assert not out.exists()
