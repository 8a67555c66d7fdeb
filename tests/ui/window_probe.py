"""Opens the real main window on an offscreen screen of a given size and reports, as JSON, where its
parts lie: for every family (the toy included), after growing it, after View → Reset layout, and after
restoring a saved layout larger than the screen. Run by tests/ui/test_window_fits.py in a process of
its own, because the offscreen platform's screen size is fixed when the application starts:

    python -m tests.ui.window_probe WIDTH HEIGHT DATA_DIR OUT.json
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

FAMILIES = (("diffusion", "tiny-diffusion"), ("vae", "tiny-vae"), ("gan", "tiny-gan"),
            ("autoregressive", "tiny-pixelcnn"), ("autoregressive", "tiny-ar-transformer"), ("video", "tiny-video"),
            ("toy", "toy-pattern"))
LONG_ERROR = ("The checkpoint tiny-vae could not be loaded: its file is corrupt or truncated, so this "
              "message is long enough to reach across the whole status bar and past its end.")


def use_screen(width: int, height: int, folder: Path) -> None:
    """The offscreen platform with one screen of this size (and no window frame), before Qt starts."""
    config = folder / "screen.json"
    config.write_text(json.dumps({"windowFrameMargins": False, "screens": [
        {"name": "probe", "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96,
         "logicalBaseDpi": 96, "dpr": 1}]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


def rect(widget) -> list[int]:
    from PySide6.QtCore import QPoint, QRect

    return list(QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size()).getRect())


def part(widget) -> dict:
    """Where a widget lies on the screen, whether it is shown, and whether a parent cuts it off."""
    return {"rect": rect(widget), "visible": widget.isVisible(),
            "whole": widget.visibleRegion().boundingRect() == widget.rect()}


def measure(w) -> dict:
    return {"screen": list(w.screen_rect().getRect()), "frame": list(w.frameGeometry().getRect()),
            "parts": {"generate": part(w.controls.generate_button), "cancel": part(w.controls.cancel_button),
                      "preview": part(w.preview.canvas), "status": part(w.statusBar())},
            "floating": [t for t, d in w.docks.items() if d.isFloating()],
            "message": w.last_message}


def settle(w, ms: int = 300) -> None:
    from PySide6.QtTest import QTest

    QTest.qWait(ms)  # the queued layout work (resizeDocks after a dock shows) runs
    w.layout().activate()


def open_on(w, family: str, checkpoint: str) -> dict:
    from PySide6.QtTest import QTest

    assert w.model_panel.select(family, checkpoint), (family, checkpoint)
    if w.model_panel.family_info().can("decode"):  # its sliders and map are built once the model loads
        for _ in range(600):
            if w.latent.model is not None and w.latent.model.checkpoint.id == checkpoint:
                break
            QTest.qWait(100)
    settle(w)
    return measure(w)


def close(w) -> None:
    w.close()  # saves the settings and stops its threads
    w.store.close()


def main(width: int, height: int, data: Path, out: Path) -> None:
    use_screen(width, height, data)
    os.environ["GENSTUDIO_DATA_DIR"] = str(data)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from tests.conftest import (
        make_tiny_ar_transformer,
        make_tiny_checkpoint,
        make_tiny_gan,
        make_tiny_pixelcnn,
        make_tiny_vae,
        make_tiny_video,
    )
    from tests.families.toy import make_toy_checkpoint, registered

    folder = data / "checkpoints"
    make_tiny_checkpoint(folder / "tiny-diffusion.safetensors")
    make_tiny_vae(folder / "tiny-vae.safetensors", latent_dim=16, directions=8)
    make_tiny_gan(folder / "tiny-gan.safetensors")
    make_tiny_pixelcnn(folder / "tiny-pixelcnn.safetensors")
    make_tiny_ar_transformer(folder / "tiny-ar-transformer.safetensors")
    make_tiny_video(folder / "tiny-video.safetensors")
    make_toy_checkpoint(folder / "toy-pattern.safetensors")
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from studio.ui.app import build_window

    report: dict = {}
    with registered():
        w = build_window(preload=False)
        w.show()
        settle(w)
        report["families"] = {checkpoint: open_on(w, family, checkpoint) for family, checkpoint in FAMILIES}
        w.notify(LONG_ERROR, error=True)
        w.resize(4 * width, 4 * height)  # as a layout change or a restore would ask
        settle(w)
        report["grown"] = measure(w)
        # The user's own mess: the Controls float, the Prompt tabbed onto the Gallery, the Preview closed.
        w.docks["Controls"].setFloating(True)
        w.tabifyDockWidget(w.docks["Gallery"], w.docks["Prompt"])
        w.docks["Preview"].close()
        w.reset_layout_action.trigger()
        settle(w)
        report["reset"] = measure(w) | {"areas": {t: w.dockWidgetArea(d).name for t, d in w.docks.items()},
                                        "hidden": [t for t, d in w.docks.items() if d.isHidden()]}
        report["reset_vae"] = open_on(w, "vae", "tiny-vae")
        # A window grown past the screen (as before the fix) is closed: its geometry and layout are saved.
        w.setMaximumSize(16_777_215, 16_777_215)
        w.setGeometry(0, 0, width, height + 400)
        report["saved_frame"] = list(w.frameGeometry().getRect())
        close(w)
        w = build_window(preload=False)
        w.show()
        report["restored"] = open_on(w, "vae", "tiny-vae")
        close(w)
        # A saved geometry that fits is restored as it was.
        w = build_window(preload=False)
        w.show()
        w.setGeometry(20, 10, width - 100, height - 60)
        settle(w)
        report["kept_before"] = measure(w)
        close(w)
        w = build_window(preload=False)
        w.show()
        report["kept"] = open_on(w, "vae", "tiny-vae")
        close(w)
    out.write_text(json.dumps(report, indent=1))
    app.quit()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
