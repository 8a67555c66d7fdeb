"""The window fits the screen (issue 11, item 15): on a 1366x768 and a 1280x720 screen, every family
(the toy included) shows Generate, Cancel, the preview and the status bar whole, inside the screen
and apart from each other; the window never grows past the screen; View → Reset layout brings back a
layout that fits; a saved layout larger than the screen is not restored, one that fits is.

The offscreen platform's screen size is fixed when Qt starts, so each screen size runs the real
window in a process of its own (tests/ui/window_probe.py), which reports where everything lies."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect

from .window_probe import FAMILIES

ROOT = Path(__file__).resolve().parents[2]
SCREENS = [(1366, 768), (1280, 720)]


@pytest.fixture(scope="module", params=SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def probe(request, tmp_path_factory) -> dict:
    width, height = request.param
    folder = tmp_path_factory.mktemp(f"screen{width}x{height}")
    out = folder / "report.json"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "GENSTUDIO_DATA_DIR")}
    done = subprocess.run([sys.executable, "-m", "tests.ui.window_probe", str(width), str(height), str(folder), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and out.exists(), done.stderr[-3000:]
    return json.loads(out.read_text())


def check_fits(m: dict, where: str) -> None:
    """The frame inside the screen; Generate, Cancel, the preview and the status bar shown whole, inside
    the screen and not overlapping."""
    screen, frame = QRect(*m["screen"]), QRect(*m["frame"])
    assert screen.contains(frame), f"{where}: the window {m['frame']} is not inside the screen {m['screen']}"
    rects = {}
    for name, part in m["parts"].items():
        rects[name] = QRect(*part["rect"])
        assert part["visible"] and part["whole"], f"{where}: {name} is hidden or cut off ({part})"
        assert screen.contains(rects[name]), f"{where}: {name} {part['rect']} is not inside the screen {m['screen']}"
    names = list(rects)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not rects[a].intersects(rects[b]), f"{where}: {a} {rects[a]} overlaps {b} {rects[b]}"
    assert not m["floating"], f"{where}: docks float: {m['floating']}"


def test_every_family_fits_the_screen(probe):
    assert list(probe["families"]) == [checkpoint for _family, checkpoint in FAMILIES]
    for checkpoint, m in probe["families"].items():
        check_fits(m, checkpoint)
        assert QRect(*m["parts"]["preview"]["rect"]).width() >= 300, f"{checkpoint}: the preview is squeezed"


def test_the_window_never_grows_past_the_screen(probe):
    m = probe["grown"]  # asked for four times the screen, with a long error in the status bar
    check_fits(m, "grown")
    assert "corrupt or truncated" in m["message"]


def test_reset_layout_brings_back_a_layout_that_fits(probe):
    m = probe["reset"]  # after floating the Controls, tabbing the Prompt onto the Gallery, closing the Preview
    check_fits(m, "after Reset layout")
    assert m["hidden"] == [], "the toy family decodes: every dock shows"
    assert {t: m["areas"][t] for t in ("Model", "Prompt", "Controls", "Preview")} == {
        "Model": "LeftDockWidgetArea", "Prompt": "LeftDockWidgetArea", "Controls": "LeftDockWidgetArea",
        "Preview": "RightDockWidgetArea"}
    check_fits(probe["reset_vae"], "VAE after Reset layout")


def test_a_saved_layout_larger_than_the_screen_is_not_restored(probe):
    screen = QRect(*probe["restored"]["screen"])
    assert QRect(*probe["saved_frame"]).height() > screen.height(), "the saved window was larger than the screen"
    check_fits(probe["restored"], "restored from a larger window")
    assert "larger screen" in probe["restored"]["message"]


def test_a_saved_layout_that_fits_is_restored_as_it_was(probe):
    before, after = probe["kept_before"], probe["kept"]
    check_fits(after, "restored")
    assert after["frame"] == before["frame"]
    assert {n: p["rect"] for n, p in after["parts"].items()} == {n: p["rect"] for n, p in before["parts"].items()}
    assert after["message"] == ""
