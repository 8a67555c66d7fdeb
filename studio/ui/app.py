"""Entry point of the desktop studio: ``genstudio-gui`` or ``python -m studio.ui.app``."""
from __future__ import annotations

import sys

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from ..store.gallery import GalleryStore
from ..store.jobqueue import JobQueue
from ..store.paths import clean_user_tmp, user_data_dir
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


def main(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Generative Studio")
    window = build_window()
    window.show()
    code = app.exec()  # closing the window stops its worker threads (MainWindow.closeEvent)
    window.store.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
