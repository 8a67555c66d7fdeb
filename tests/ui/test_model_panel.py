"""The Model panel and the window's start-up beside broken checkpoints: a bad card or config never
stops the window; a broken checkpoint is listed (greyed, not selectable) under its family with the
reason, and the good ones are chosen as before."""
import json

from PySide6.QtCore import Qt

from tests.conftest import make_tiny_checkpoint, make_tiny_vae


def _add_broken(folder) -> None:
    make_tiny_checkpoint(folder / "bad-card.safetensors").with_suffix(".json").write_text("[1, 2, 3]")
    make_tiny_vae(folder / "bad-vae.safetensors").with_suffix(".json").write_text(json.dumps({"title": 5}))
    (folder / "junk.safetensors").write_bytes(b"\x01")


def test_broken_checkpoints_are_listed_greyed_with_their_reason(qtbot, tiny_ckpt, monkeypatch):
    from studio.store import registry
    from studio.ui import model_panel
    from studio.ui.model_panel import ModelPanel

    _add_broken(tiny_ckpt.parent)
    monkeypatch.setattr(model_panel, "scan", lambda: registry.scan([tiny_ckpt.parent]))  # not the shipped ones
    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.rescan()
    assert panel.select("diffusion", "tiny-diffusion") and panel.current().id == "tiny-diffusion"
    assert not panel.select("diffusion", "bad-card")
    texts = [panel.checkpoint.itemText(i) for i in range(panel.checkpoint.count())]
    i = texts.index("bad-card (broken)")
    assert not panel.checkpoint.model().item(i).isEnabled()
    assert "must be a JSON object, not a list" in panel.checkpoint.itemData(i, Qt.ItemDataRole.ToolTipRole)
    for name in ("bad-card", "bad-vae", "junk"):
        assert name in panel.problems.text()
    panel.family.setCurrentIndex(panel.family.findData("vae"))  # only a broken VAE is installed
    assert panel.current() is None
    assert "title 5" in panel.card.toPlainText()


def test_the_window_starts_beside_broken_checkpoints(qtbot, tiny_ckpt, studio_window):
    _add_broken(tiny_ckpt.parent)
    window = studio_window("diffusion", "tiny-diffusion")
    assert window.model_panel.current().id == "tiny-diffusion"
    assert "bad-card" in window.model_panel.problems.text()
