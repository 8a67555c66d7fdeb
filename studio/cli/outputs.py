"""Where ``genstudio generate`` writes: decided and checked from ``--out`` before any model loads, so
a typo costs a one-line message, not a finished run with nowhere to go."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import StudioError

MAX_SCALE = 16
# Formats a user may expect from the name; we write PNG only (the settings ride in its text chunks).
_OTHER_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class OutputPlan:
    """``single``: the one image's file; otherwise each image goes into ``folder`` as it is made.
    ``grid``: one grid of them all, written at the end."""

    single: Path | None = None
    folder: Path | None = None
    grid: Path | None = None

    def folders(self) -> list[Path]:
        """What must exist before the first write."""
        return list(dict.fromkeys(f if f == self.folder else f.parent
                                  for f in (self.folder, self.single, self.grid) if f is not None))

    def image_path(self, seed: int, index: int) -> Path:
        if self.single is not None:
            return self.single
        assert self.folder is not None
        return self.folder / f"{seed}-{index:02d}.png"


def plan_output(out: str, num: int, grid: bool) -> OutputPlan:
    """What ``--out`` means for ``num`` images: a .png file (one image; with --grid the grid, the
    images going in the folder of the same name beside it) or a folder (with --grid it also gets
    grid.png). Refuses, with one sentence, any --out that cannot be written."""
    if "\0" in out:
        raise StudioError("--out contains a NUL character; give a file or folder name.")
    path = Path(out or ".")
    suffix = path.suffix.lower()
    if suffix in _OTHER_IMAGE_SUFFIXES:
        raise StudioError(f"--out {out} names a {suffix} file; genstudio writes PNG files (they carry "
                          "the settings): give a .png file or a folder.")
    if suffix == ".png":
        if grid:
            plan = OutputPlan(folder=path.parent / path.stem, grid=path)
        elif num == 1:
            plan = OutputPlan(single=path)
        else:
            raise StudioError("--num N writes N files: give --out a folder (or add --grid for one image).")
    else:
        plan = OutputPlan(folder=path, grid=path / "grid.png" if grid else None)
    for file in (plan.single, plan.grid):
        if file is not None:
            _check_file(file)
    if plan.folder is not None:
        _check_folder(plan.folder)
    return plan


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise StudioError(f"{path} is a folder: give --out a .png file name, or a folder name without .png.")
    _check_folder(path.parent, path)


def _check_folder(folder: Path, target: Path | None = None) -> None:
    """``folder`` exists or can be made, and files can be created in it (tried, not guessed:
    permissions alone say nothing on read-only or special file systems). ``target``: what the
    message names (the file to write in it, else the folder itself)."""
    target = target or folder
    existing = folder
    while not existing.exists() and not existing.is_symlink():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        if existing == target:
            raise StudioError(f"{target} is a file, not a folder: give --out a folder (or a .png file for one "
                              "image).")
        raise StudioError(f"{target} cannot be made: {existing} is a file, not a folder.")
    if existing.is_symlink() and not existing.exists():
        raise StudioError(f"{target} cannot be made: {existing} is a broken link.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".genstudio-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise StudioError(f"Cannot write in {existing}: {e.strerror or e}.") from None


def make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StudioError(f"Cannot make the output folder {folder}: {e.strerror or e}.") from None


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, C) -> (H*scale, W*scale, C), each pixel a scale x scale block (nearest neighbour), so
    taking every ``scale``-th pixel gives the model's output back exactly."""
    if scale == 1:
        return image
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
