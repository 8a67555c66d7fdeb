"""Entry point of the desktop studio: ``genstudio-gui`` or ``python -m studio.ui.app``."""
from __future__ import annotations

import os
import sys

from PySide6.QtCore import QSettings, QSize, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ..store.gallery import GalleryStore
from ..store.jobqueue import JobQueue
from ..store.paths import APP, APP_ID, clean_user_tmp, icon_file, user_data_dir
from ..workers.generation import GenerationController
from ..workers.session import StudioSession
from .main_window import MainWindow


def build_window(preload: bool = True) -> MainWindow:
    data = user_data_dir()
    clean_user_tmp()  # what a crashed run left half-written; the gallery tidies its own folders
    settings = QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat)
    controller = GenerationController(JobQueue(data / "queue.json"))
    window = MainWindow(StudioSession(GalleryStore(data / "gallery"), controller), settings)
    ck = window.model_panel.current()
    if preload and ck is not None:
        # Load torch, the checkpoint and the text encoder on a worker after the window is up.
        QTimer.singleShot(0, lambda: controller.preload(ck.id))
    return window


def app_icon() -> QIcon:
    """The studio's icon (packaging/linux/icons, shipped as package data): its PNGs at the sizes they
    are drawn for, and the SVG for any other size."""
    icon = QIcon()
    for size in (48, 128, 256):
        icon.addFile(str(icon_file(size)), QSize(size, size))
    icon.addFile(str(icon_file()))
    return icon


def configure(app: QApplication) -> None:
    """Names and icon; the desktop file name ties the window to its desktop entry (packaging/linux),
    which is how Wayland compositors and docks find its icon and name."""
    app.setApplicationName(APP)
    app.setApplicationDisplayName("Generative Studio")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())


def main(argv: list[str] | None = None) -> int:
    """``--self-test``: open the window offscreen, make one image with each family's first shipped
    model, print a line per family, and exit 0, or 1 if any failed (studio.ui.self_test)."""
    argv = list(sys.argv if argv is None else argv)
    self_test = "--self-test" in argv[1:]
    if self_test:
        argv.remove("--self-test")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # headless: a bundle's smoke test, CI
    app = QApplication.instance() or QApplication(argv)
    configure(app)
    if self_test:
        from .self_test import run_self_test

        return run_self_test()
    window = build_window()
    window.show()
    code = app.exec()  # closing the window stops its worker threads (MainWindow.closeEvent)
    window.store.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
