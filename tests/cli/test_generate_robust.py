"""``genstudio generate`` keeps what it has made and refuses what it cannot do before it starts:
images are on disk as they are made (a kill -9 loses none of them), --out is checked before any
model loads, --family picks its own default checkpoint, --scale enlarges the files exactly, and the
progress bar has a total that the text encoder's loading does not interleave with."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from studio.cli import main
from studio.cli.outputs import MAX_SCALE, make_folder, plan_output
from studio.core.errors import StudioError
from studio.store.paths import resources_dir
from studio.store.pngmeta import read_settings
from studio.store.registry import load_model
from tests.conftest import make_tiny_checkpoint

REPO = Path(__file__).resolve().parents[2]


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        a = np.asarray(img)
    return a[..., None] if a.ndim == 2 else a


# --- nothing lost: kill -9 in the middle of a long run ---------------------------------------------
@pytest.mark.parametrize("grid", [False, True], ids=["folder", "grid"])
def test_kill_9_keeps_every_image_already_made_complete_and_reproducible(data_dir, tmp_path, grid):
    make_tiny_checkpoint(data_dir / "checkpoints" / "tiny-uncond.safetensors", cond_dim=0)
    out = tmp_path / ("run.png" if grid else "run")
    images_dir = tmp_path / "run"
    cmd = [sys.executable, "-c", "import sys; from studio.cli import main; sys.exit(main(sys.argv[1:]))",
           "generate", "--checkpoint", "tiny-uncond", "--num", "20000", "--steps", "20", "--seed", "7",
           "--out", str(out), "--quiet"] + (["--grid"] if grid else [])
    env = dict(os.environ, GENSTUDIO_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300  # generous: the machine may be busy
        while len(list(images_dir.glob("*.png"))) < 2:
            if proc.poll() is not None:
                pytest.fail(f"genstudio ended early ({proc.returncode}): {proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("no images were written within 300 s of starting")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()

    files = sorted(images_dir.glob("*.png"))
    assert len(files) >= 2
    if grid:
        assert not out.exists(), "the grid comes at the end; this run was killed long before"
    requests = {}
    for f in files:  # every file there is complete: it decodes and carries its settings
        with Image.open(f) as img:
            img.load()
            assert img.size == (12, 12)
        requests[f] = read_settings(f)
    model = load_model("tiny-uncond")
    for f in (files[0], files[-1]):
        req, index = requests[f]
        assert req.checkpoint == "tiny-uncond" and req.steps == 20
        assert np.array_equal(model.generate(req)[index], pixels(f)), f"{f.name} does not reproduce"
    # the next run into the same folder removes what the killed one left half-written
    assert main(["generate", "--checkpoint", "tiny-uncond", "--num", "2", "--steps", "2", "--out", str(images_dir),
                 "--quiet"]) == 0
    assert not list(images_dir.glob(".*.tmp"))


# --- --out is checked before any model loads ------------------------------------------------------
@pytest.fixture
def no_model(monkeypatch):
    """Fails the test if generate gets as far as loading a model."""
    def refuse(*a, **k):
        raise AssertionError("a model was loaded before --out was checked")

    monkeypatch.setattr("studio.store.registry.load_model", refuse)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genstudio: "), err
    return lines[0]


def test_bad_out_is_one_line_before_the_model_loads(tiny_ckpt, tmp_path, capsys, no_model):
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    a_dir = tmp_path / "a-dir.png"
    a_dir.mkdir()
    base = ["generate", "--checkpoint", "tiny-diffusion", "--steps", "2", "--quiet"]
    cases = [
        (["--num", "3", "--out", str(a_file)], "is a file, not a folder"),
        (["--num", "3", "--out", str(a_file / "sub")], "cannot be made"),
        (["--out", str(a_file / "x.png")], "cannot be made"),
        (["--out", str(a_dir)], "is a folder"),
        (["--out", str(tmp_path / "x.jpg")], "writes PNG files"),
        (["--out", str(tmp_path / "x\0y.png")], "NUL"),
        (["--num", "3", "--grid", "--out", str(tmp_path / "a-file.png")], "is a file, not a folder"),  # a-file/
        (["--scale", "0", "--out", str(tmp_path / "s.png")], f"between 1 and {MAX_SCALE}"),
        (["--scale", "17", "--out", str(tmp_path / "s.png")], f"between 1 and {MAX_SCALE}"),
        (["--seed", "4294967290", "--num", "10", "--out", str(tmp_path / "seeds")], "largest seed"),
    ]
    before = sorted(p.name for p in tmp_path.iterdir())
    for extra, message in cases:
        assert main(base + extra) == 2, extra
        assert message in one_line_error(capsys), extra
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing was created"
    assert a_file.read_text() == "mine"


def test_an_unwritable_out_is_refused_before_the_model_loads(tiny_ckpt, capsys, no_model):
    if not Path("/sys").is_dir():
        pytest.skip("no /sys here")
    try:
        fd, probe = tempfile.mkstemp(dir="/sys")
    except OSError:
        pass
    else:
        os.close(fd)
        os.unlink(probe)
        pytest.skip("/sys is writable here")
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--num", "2", "--out", "/sys/genstudio-out",
                 "--quiet"]) == 2
    assert "Cannot write in /sys" in one_line_error(capsys)


names = st.sampled_from(["a", "b", "a.png", "b.png", "c.jpg", "grid.png", "x y", ""])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing=st.lists(st.tuples(st.lists(names.filter(bool), min_size=1, max_size=3),
                                   st.sampled_from(["file", "dir"])), max_size=4),
       out=st.lists(names, min_size=1, max_size=3), num=st.sampled_from([1, 3]), grid=st.booleans())
def test_any_out_is_either_refused_in_one_sentence_or_writable(existing, out, num, grid):
    """Over arrangements of existing files and folders: plan_output refuses with a StudioError, or
    every file it plans (images and grid) can then really be written."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for parts, kind in existing:
            p = root.joinpath(*parts)
            try:
                if kind == "dir":
                    p.mkdir(parents=True, exist_ok=True)
                else:
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_text("")
            except OSError:
                pass  # the arrangement collides with itself: keep what could be made
        target = str(root.joinpath(*[n for n in out if n])) if any(out) else str(root)
        try:
            plan = plan_output(target, num, grid)
        except StudioError as e:
            assert str(e).endswith(".") and "\n" not in str(e)
            return
        for folder in plan.folders():
            make_folder(folder)
        for path in [plan.image_path(5, i) for i in range(num)] + ([plan.grid] if plan.grid else []):
            Image.new("L", (2, 2)).save(path, format="PNG")
            assert path.is_file()


# --- images as they are made, the grid, --scale -----------------------------------------------------
def test_grid_also_writes_every_image(tiny_ckpt, tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--prompt", "a bag", "--steps", "2", "--num", "5",
                 "--grid", "--out", str(out), "--quiet"]) == 0
    files = sorted((tmp_path / "sheet").glob("*.png"))
    assert len(files) == 5 and pixels(out).shape[0] > 24
    assert sorted(read_settings(f)[1] for f in files) == [0, 1, 2, 3, 4]


def test_scale_enlarges_the_files_and_the_settings_reproduce_the_model_output(tiny_ckpt, tmp_path):
    args = ["generate", "--checkpoint", "tiny-diffusion", "--prompt", "a sneaker", "--steps", "3", "--seed", "4",
            "--quiet"]
    assert main(args + ["--num", "3", "--scale", "3", "--out", str(tmp_path / "big")]) == 0
    assert main(args + ["--num", "3", "--grid", "--out", str(tmp_path / "small.png")]) == 0
    assert main(args + ["--num", "3", "--grid", "--scale", "2", "--out", str(tmp_path / "sheet.png")]) == 0
    model = load_model("tiny-diffusion")
    files = sorted((tmp_path / "big").glob("*.png"))
    assert len(files) == 3
    for f in files:
        big = pixels(f)
        assert big.shape == (36, 36, 1)
        req, index = read_settings(f)
        assert (req.width, req.height) == (12, 12), "the settings describe the model's own output"
        made = model.generate(req)[index]
        # Reproduction compares after the same scale; every 3rd pixel of the file is the model's output.
        assert np.array_equal(big, np.repeat(np.repeat(made, 3, 0), 3, 1))
        assert np.array_equal(big[::3, ::3], made)
    small, big_grid = pixels(tmp_path / "small.png"), pixels(tmp_path / "sheet.png")
    assert big_grid.shape[:2] == (2 * small.shape[0], 2 * small.shape[1])
    assert np.array_equal(big_grid[::2, ::2], small)


# --- --family without --checkpoint --------------------------------------------------------------------
@pytest.fixture
def only_user_checkpoints(data_dir, monkeypatch):
    """The registry sees the user's checkpoint folder alone (no shipped checkpoints)."""
    monkeypatch.setattr("studio.store.registry.checkpoint_dirs", lambda: [data_dir / "checkpoints"])


def test_family_without_checkpoint_uses_that_familys_first(tiny_ckpt, tiny_vae, only_user_checkpoints,
                                                            tmp_path, capsys):
    out = tmp_path / "v.png"
    assert main(["generate", "--family", "vae", "--seed", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "checkpoint: tiny-vae" in err and "is a diffusion model" not in err
    req, _ = read_settings(out)
    assert (req.family, req.checkpoint) == ("vae", "tiny-vae")


def test_family_with_no_checkpoint_lists_what_is_installed(tiny_ckpt, tiny_vae, only_user_checkpoints,
                                                           tmp_path, capsys, no_model):
    assert main(["generate", "--family", "gan", "--out", str(tmp_path / "g.png")]) == 2
    line = one_line_error(capsys)
    assert "No gan checkpoint is installed" in line
    assert "tiny-diffusion (diffusion)" in line and "tiny-vae (vae)" in line
    assert main(["generate", "--family", "nonsense", "--out", str(tmp_path / "g.png")]) == 2
    assert "Unknown model family 'nonsense'" in one_line_error(capsys)
    assert not (tmp_path / "g.png").exists()


@pytest.mark.skipif(not (resources_dir() / "checkpoints" / "vae-fmnist-2d.safetensors").is_file(),
                    reason="the shipped checkpoints are not installed")
def test_family_vae_picks_the_shipped_vae(data_dir, tmp_path, capsys):
    out = tmp_path / "v.png"
    assert main(["generate", "--family", "vae", "--out", str(out)]) == 0
    assert "checkpoint: vae-fmnist-2d" in capsys.readouterr().err
    assert read_settings(out)[0].checkpoint == "vae-fmnist-2d"


# --- the progress bar ---------------------------------------------------------------------------------
def test_progress_bar_counts_steps_of_all_batches_after_one_encoder_line(tiny_ckpt, tmp_path, capsys):
    # 20 images are two batches (16 + 4) of 3 steps: a bar of 6 steps.
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--prompt", "a bag", "--steps", "3", "--num", "20",
                 "--out", str(tmp_path / "many")]) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("loaded text encoder") == 1
    bar = re.search(r"\|\s*\d+/6 \[", err)
    assert bar, f"no bar with a total of 6 steps in {err!r}"
    assert err.index("loaded text encoder") < bar.start(), "the encoder line comes before the bar"
    assert "Loading weights" not in err
    assert len(captured.out.split()) == 20 and len(list((tmp_path / "many").glob("*.png"))) == 20


def test_an_unconditional_model_loads_no_text_encoder(data_dir, tmp_path, capsys):
    make_tiny_checkpoint(data_dir / "checkpoints" / "tiny-uncond.safetensors", cond_dim=0)
    assert main(["generate", "--checkpoint", "tiny-uncond", "--steps", "2", "--out", str(tmp_path / "u.png")]) == 0
    assert "loaded text encoder" not in capsys.readouterr().err
