"""Where things live: shipped resources beside the package, user data under platformdirs."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "generative-studio"


def resources_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "resources"


def user_data_dir() -> Path:
    """GENSTUDIO_DATA_DIR overrides the platform default (tests and portable installs use it)."""
    override = os.environ.get("GENSTUDIO_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def checkpoint_dirs() -> list[Path]:
    return [resources_dir() / "checkpoints", user_data_dir() / "checkpoints"]
