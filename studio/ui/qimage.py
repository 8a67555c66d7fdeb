"""numpy <-> QImage for the canvases and thumbnails."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap

from ..core.images import grid


def to_qimage(image: np.ndarray) -> QImage:
    """(H, W, 1|3) uint8 -> a QImage that owns its pixels, in RGB32: the format QPainter scales
    fastest (drawing a scaled Grayscale8 image costs several times more, on every preview frame)."""
    image = np.ascontiguousarray(image)
    h, w, c = image.shape
    fmt = QImage.Format.Format_Grayscale8 if c == 1 else QImage.Format.Format_RGB888
    return QImage(image.data, w, h, w * c, fmt).convertToFormat(QImage.Format.Format_RGB32)


def batch_qimage(images: np.ndarray) -> QImage:
    """A batch (B, H, W, C) as one grid image; a single image as itself."""
    return to_qimage(images[0] if len(images) == 1 else grid(images))


def thumbnail(path: str, size: int = 96) -> QPixmap:
    from PySide6.QtCore import Qt

    pm = QPixmap(path)
    if pm.isNull():
        return pm
    return pm.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
