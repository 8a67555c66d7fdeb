"""The wheel carries its resources: built from a copy of the sources and installed into a fresh venv
outside the repository, it lists the shipped models, generates, and opens the window (the self-test),
from a folder where the repository is not importable; the editable install still finds the clone's
resources/.

To save time and the network, the fresh venvs borrow the project venv's third-party packages (torch,
Qt, ...) through a .pth file, and the wheel is installed with --no-deps: what is tested is the wheel
itself. The .pth line adds that folder to sys.path without running the .pth files in it, so the
project's editable install there is not seen."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (ROOT / "resources" / "checkpoints").glob("*.safetensors")
                 if not p.name.endswith(".state.safetensors"))
TIMEOUT = 600

pytestmark = pytest.mark.slow  # builds a 70 MB wheel, loads the shipped checkpoints and the real encoder


def run(*cmd, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, f"{cmd} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


def source_copy(dest: Path) -> Path:
    """What the build reads, copied, so the build's own files (build/, egg-info) stay out of the clone,
    and without what a training leaves beside the checkpoints (resumable states, samples, half-written files)."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp", "*-samples", "*.state.safetensors", "build",
                                  "*.egg-info")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    for folder in ("studio", "resources", "packaging/studio_resources", "packaging/linux"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=skip)
    return dest


def fresh_venv(where: Path) -> Path:
    """A venv without pip or the project, seeing the project venv's packages after its own."""
    run(sys.executable, "-m", "venv", "--without-pip", where, cwd=where.parent)
    python = where / "bin" / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=where).stdout.strip()
    Path(purelib, "project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def pip_into(python: Path, *args, cwd: Path) -> None:
    """Install into the venv of ``python``, offline, with the project venv's pip run by that interpreter."""
    run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--no-index", *args, cwd=cwd)


def clean_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    return env | {"GENSTUDIO_DATA_DIR": str(tmp / "userdata"), "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen",
                  "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("wheel")
    src = source_copy(tmp_path_factory.mktemp("src"))
    run(sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps", "--no-index",
        "--no-build-isolation", "-w", tmp / "dist", src, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("generative_studio-*.whl")
    venv = tmp / "venv"
    python = fresh_venv(venv)
    pip_into(python, wheel, cwd=tmp)
    away = tmp / "elsewhere"  # run from here: neither the repository nor the source copy
    away.mkdir()
    return {"tmp": tmp, "src": src, "wheel": wheel, "venv": venv, "python": python, "away": away,
            "env": clean_env(tmp)}


def test_the_wheel_carries_the_shipped_files_and_nothing_of_a_training(built):
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    for ck in SHIPPED:
        assert {f"studio_resources/checkpoints/{ck}.safetensors", f"studio_resources/checkpoints/{ck}.json"} <= names
    for folder in ("classifiers", "tokenizers"):
        for path in (ROOT / "resources" / folder).glob("*.safetensors"):
            assert f"studio_resources/{folder}/{path.name}" in names
    assert {f"studio_resources/icons/{n}" for n in ("icon.svg", "icon-48.png", "icon-128.png", "icon-256.png")} <= names
    assert "studio_resources/__init__.py" in names and "studio/cli/doctor.py" in names
    assert not [n for n in names if n.endswith(".state.safetensors") or n.endswith(".tmp") or n.startswith("tests/")]


def test_installed_wheel_runs_from_another_folder(built):
    python, away, env, venv = built["python"], built["away"], built["env"], built["venv"].resolve()
    where = run(python, "-c", "import json, studio; from studio.store.paths import resources_dir, icon_file; "
                "print(json.dumps([studio.__file__, str(resources_dir()), str(icon_file(48))]))", cwd=away, env=env)
    for path in json.loads(where.stdout):
        assert Path(path).resolve().is_relative_to(venv), f"{path} is not from the installed wheel"
        assert Path(path).exists()

    listing = run(venv / "bin" / "genstudio", "models", cwd=away, env=env).stdout
    rows = {line.split()[0]: line for line in listing.splitlines()[1:] if line.strip()}
    assert set(SHIPPED) <= set(rows), listing
    assert all(Path(rows[ck].split()[-1]).resolve().is_relative_to(venv) for ck in SHIPPED), "from the wheel's data"

    out = away / "sneaker.png"
    run(venv / "bin" / "genstudio", "generate", "--checkpoint", "diffusion-fmnist", "--prompt", "a sneaker",
        "--steps", "3", "--out", out, "--device", "cpu", "--quiet", cwd=away, env=env)
    with Image.open(out) as png:
        assert png.size == (28, 28) and "diffusion-fmnist" in png.text["parameters"]


def test_installed_wheel_opens_the_window(built):
    """genstudio-gui --self-test from the wheel: the window, one image per family, the icon from package data."""
    venv, away, env = built["venv"], built["away"], built["env"]
    from studio.store.registry import scan

    bare = {k: v for k, v in env.items() if k != "QT_QPA_PLATFORM"}  # --self-test goes offscreen by itself
    out = run(venv / "bin" / "genstudio-gui", "--self-test", cwd=away, env=bare).stdout
    lines = {line.split()[1]: line.split() for line in out.splitlines() if line.split()[:1] in (["OK"], ["FAIL"])}
    infos, _ = scan([ROOT / "resources" / "checkpoints"])
    first = {}
    for info in infos:  # the self-test's choice: each family's first shipped checkpoint
        first.setdefault(info.family, info.id)
    assert {f: line[:3] for f, line in lines.items()} == {f: ["OK", f, ck] for f, ck in first.items()}, out
    assert "self-test passed" in out and str(venv.resolve()) in out.splitlines()[-1], out
    probe = ("import sys; from PySide6.QtWidgets import QApplication; from studio.ui.app import configure; "
             "app = QApplication(sys.argv); configure(app); print(app.windowIcon().isNull(), app.desktopFileName())")
    icon = run(built["python"], "-c", probe, cwd=away, env=env).stdout.split()
    assert icon == ["False", "io.github.generativestudio.GenerativeStudio"]


def test_editable_install_finds_the_clone_resources(built, tmp_path):
    """pip install -e (what packaging/setup.sh does) maps studio_resources to packaging/studio_resources,
    which holds no data: the clone's resources/ and icons are used."""
    src = built["src"]
    python = fresh_venv(tmp_path / "venv")
    pip_into(python, "--no-build-isolation", "-e", src, cwd=tmp_path)
    out = run(python, "-c", "import json, studio; from studio.store.paths import resources_dir, icon_file; "
              "print(json.dumps([studio.__file__, str(resources_dir()), str(icon_file(256))]))",
              cwd=built["away"], env=built["env"]).stdout
    module, resources, icon = (Path(p).resolve() for p in json.loads(out))
    src = src.resolve()
    assert module == src / "studio" / "__init__.py"
    assert resources == src / "resources" and (resources / "checkpoints" / "diffusion-fmnist.safetensors").is_file()
    assert icon == src / "packaging" / "linux" / "icons" / "icon-256.png" and icon.is_file()
