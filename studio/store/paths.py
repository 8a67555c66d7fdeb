"""Where things live: shipped resources as package data, user data under platformdirs."""
from __future__ import annotations

import importlib.resources
import os
import re
import time
from pathlib import Path

import platformdirs

APP = "generative-studio"
APP_ID = "io.github.generativestudio.GenerativeStudio"  # the desktop entry's, icon's and AppStream id
SHIPPED = "studio_resources"  # the package that carries resources/ and the icons in a wheel or bundle
_REPO = Path(__file__).resolve().parent.parent.parent  # the clone, in an editable install


def _shipped(folder: str) -> Path | None:
    """``folder`` of the installed package studio_resources, or None where it holds no such folder: an
    editable install maps the package to packaging/studio_resources, without the data, and an install
    older than the package has none. A wheel and a PyInstaller bundle install it as plain files, so
    importlib.resources gives a real path (the checkpoints are memory-mapped, so they must be files)."""
    try:
        root = importlib.resources.files(SHIPPED)
    except ModuleNotFoundError:
        return None
    path = root.joinpath(folder)
    return path if isinstance(path, Path) and path.is_dir() else None


def resources_dir() -> Path:
    """The shipped checkpoints, classifiers and tokenizers (its ``checkpoints/``, ``classifiers/`` and
    ``tokenizers/``): the package data of an installed wheel or bundle, else the clone's resources/."""
    shipped = _shipped("checkpoints")
    return shipped.parent if shipped is not None else _REPO / "resources"


def icon_file(size: int | None = None) -> Path:
    """The app's icon: the SVG, or its PNG of ``size`` pixels (48, 128 or 256)."""
    name = f"icon-{size}.png" if size else "icon.svg"
    return (_shipped("icons") or _REPO / "packaging" / "linux" / "icons") / name


def user_data_dir() -> Path:
    """GENSTUDIO_DATA_DIR overrides the platform default (tests and portable installs use it)."""
    override = os.environ.get("GENSTUDIO_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def inputs_dir() -> Path:
    """Where image-to-image inputs are kept, one PNG per content hash."""
    return user_data_dir() / "inputs"


def input_path(h: str) -> Path:
    return inputs_dir() / f"{h}.png"


def checkpoint_dirs() -> list[Path]:
    return [resources_dir() / "checkpoints", user_data_dir() / "checkpoints"]


# studio.core.atomic writes ".<name>.<pid>-<8 random characters>.tmp" (older versions: no pid) beside
# its target and renames it into place; a crash in between leaves that file behind.
_ATOMIC_TMP = re.compile(r"\..+\.(?:(\d{1,10})-)?[A-Za-z0-9_]{8}\.tmp")
# A file whose writer is gone is removed at once; others only when this old, since another process
# (a `genstudio train` saving a checkpoint) may be writing one right now.
STALE_TMP_AGE = 15 * 60.0


def _writer_gone(pid: str | None) -> bool:
    if pid is None or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError, ValueError):
        return False  # alive under another user, or not a pid at all: keep to the age rule
    return False


def clean_stale_tmp(*folders: str | Path, older_than: float = STALE_TMP_AGE) -> list[Path]:
    """Remove the temporary files of interrupted atomic writes from ``folders`` (not their subfolders);
    returns what was removed. Missing folders and files that cannot be removed are skipped: this is
    tidying, never a reason to stop."""
    removed = []
    now = time.time()
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                ours = _ATOMIC_TMP.fullmatch(entry.name)
                if (ours and entry.is_file(follow_symlinks=False)
                        and (_writer_gone(ours.group(1))
                             or now - entry.stat(follow_symlinks=False).st_mtime >= older_than)):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed


def clean_user_tmp() -> list[Path]:
    """At start-up: leftovers in every folder of user data that atomic writes go to (the queue and
    phrases, user checkpoints, input images). The gallery cleans its own folders when it opens. A data
    folder that cannot be made is left for its first real use to report (``genstudio doctor`` says why)."""
    try:
        data = user_data_dir()
    except OSError:
        return []
    return clean_stale_tmp(data, data / "checkpoints", inputs_dir())
