"""Render icons/icon.svg to the PNGs the desktop entry and the window use (icon-48.png, icon-128.png,
icon-256.png), with Qt's own SVG renderer. Run after changing the SVG, and commit the PNGs:

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/linux/render_icons.py
"""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (48, 128, 256)
HERE = Path(__file__).resolve().parent / "icons"


def render(svg: Path, size: int) -> QImage:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not an SVG Qt can read")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841 (fonts and painting need it)
    for size in SIZES:
        out = HERE / f"icon-{size}.png"
        if not render(HERE / "icon.svg", size).save(str(out)):
            raise SystemExit(f"could not write {out}")
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
