"""A Stable Diffusion-class pipeline the user brings, in the real window: a tiny random one registered in
the data folder opens, streams a preview step by step and reproduces from its PNG; the Model panel's
"Add model…" adds folders and single files (refusing, with the reason, what it cannot open)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog

from .jobs import frames_of, run

pytest.importorskip("diffusers")

from studio.store.registry import add_pipeline, load_model  # noqa: E402
from tests.families.pipeline.tiny import shared  # noqa: E402


def test_a_tiny_pipeline_opens_streams_its_preview_and_reproduces_from_its_png(qtbot, data_dir, studio_window):
    info = add_pipeline(shared())
    window = studio_window("pipeline", info.id, every_frame=True)
    assert window.model_panel.family_info().label == "Stable Diffusion (your model)"
    assert window.prompt_panel.isEnabled() and window.controls.guidance.isVisible()
    window.controls.steps.setValue(4)
    window.controls.guidance.setValue(6.5)
    window.controls.seed_lock.setChecked(True)
    window.controls.seed.setValue(12)
    qtbot.keyClicks(window.prompt_panel.prompt, "a red cat")
    frames = frames_of(window)
    first = run(qtbot, window, lambda: qtbot.mouseClick(window.controls.generate_button, Qt.MouseButton.LeftButton))
    req = first.request
    assert (req.family, req.checkpoint, req.prompt, req.guidance, req.steps) == ("pipeline", "tiny-sd", "a red cat",
                                                                                 6.5, 4)
    assert [f.step for f in frames] == [1, 2, 3, 4] and frames[-1].final
    shape = (1, req.height, req.width, 3)
    assert all(f.preview.shape == shape for f in frames)
    assert np.array_equal(first.images, frames[-1].preview)
    assert np.array_equal(first.images, load_model("tiny-sd").generate(req)), "the window's image is the model's"
    assert req.checkpoint_hash == load_model("tiny-sd").checkpoint.sha256
    # scramble the panels, then drop the PNG onto the window: its settings come back and reproduce it
    item = window.store.items()[0]
    window.prompt_panel.set_text("a dog")
    window.controls.steps.setValue(9)
    window.controls.seed.setValue(1)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(item.path))])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    assert window.prompt_panel.text() == "a red cat" and window.controls.steps.value() == 4
    again = run(qtbot, window, window.generate)
    assert again.request == req and np.array_equal(again.images, first.images)


def test_add_model_takes_a_folder_or_a_file_and_says_why_it_refuses_one(qtbot, data_dir, tmp_path, monkeypatch):
    from studio.ui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.rescan()
    assert panel.select("pipeline", "nothing") is False
    assert "Add model…" in panel.card.toPlainText(), "an empty pipeline family says how to add one"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(shared()))
    with qtbot.waitSignal(panel.modelAdded) as added:
        panel.add_folder_action.trigger()
    assert added.args[0].id == "tiny-sd" and panel.current().id == "tiny-sd"
    assert "diffusion pipeline (diffusers folder)" in panel.card.toPlainText()
    single = shared(single_file=True)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(single), "Safetensors checkpoints"))
    panel.add_file_action.trigger()
    assert panel.current().id == "tiny-sd-2" and panel.current().path == single
    assert ModelPanel.can_add(single) and ModelPanel.can_add(shared()) and not ModelPanel.can_add(tmp_path / "x.png")
    broken = shutil.copytree(shared(), tmp_path / "no-unet")
    shutil.rmtree(broken / "unet")
    with qtbot.waitSignal(panel.addFailed) as failed:
        assert panel.add_model(broken) is None
    assert "missing unet (the U-Net that denoises)" in failed.args[0]
    assert failed.args[0] == panel.problems.text() and panel.current().id == "tiny-sd-2", "nothing else changed"


def test_the_preview_mode_box_sets_how_its_steps_are_shown_and_the_image_stays_the_same(qtbot, data_dir,
                                                                                         studio_window):
    info = add_pipeline(shared())
    window = studio_window("pipeline", info.id, every_frame=True)
    box = window.preview.mode_box
    assert box.isVisible() and box.value() == ("linear", 1) and not box.every.isEnabled()
    window.controls.steps.setValue(4)
    window.controls.seed_lock.setChecked(True)
    frames = frames_of(window)
    fast = run(qtbot, window, window.generate)

    box.mode.setFocus()
    qtbot.keyClick(box.mode, Qt.Key.Key_Down)  # the decoder, every 2 steps
    assert box.mode.currentData() == "decode" and box.every.isEnabled()
    box.every.selectAll()
    qtbot.keyClicks(box.every, "2")
    assert window.controller.preview_mode == ("decode", 2)
    frames.clear()
    decoded = run(qtbot, window, window.generate)
    assert decoded.request == fast.request and np.array_equal(decoded.images, fast.images), "the same image"
    assert window.controller.model(info.id).preview_modes[0] == "decode"
    assert [f.step for f in frames] == [1, 2, 3, 4]
    assert np.array_equal(frames[2].preview, frames[1].preview), "step 3 keeps step 2's decoded preview"
    assert not np.array_equal(frames[1].preview, frames[0].preview)

    window.model_panel.select("diffusion", "diffusion-fmnist")
    assert not box.isVisible(), "a model that previews one way shows no choice"
