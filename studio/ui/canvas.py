"""A canvas that shows an image as large as fits, pixels kept sharp (nearest-neighbour)."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class ImageCanvas(QWidget):
    clicked = Signal(int, int)  # x, y in the image's own pixels

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._target = QRect()
        self.placeholder = placeholder
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def image(self) -> QImage | None:
        return self._image

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        """No image: the placeholder text (a new one, if given) shows instead."""
        if placeholder is not None:
            self.placeholder = placeholder
        self._target = QRect()
        self.set_image(None)

    def sizeHint(self) -> QSize:
        return QSize(448, 448)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 34))
        if self._image is None or self._image.isNull():
            p.setPen(QColor(150, 150, 160))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        if scale >= 4:
            scale = int(scale)  # whole-pixel scaling keeps every model pixel the same size
        w, h = int(iw * scale), int(ih * scale)
        target = self._target = QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(target, self._image)

    def image_point(self, x: float, y: float) -> tuple[int, int] | None:
        """The image pixel under widget point (x, y), or None outside the drawn image."""
        t = self._target
        if self._image is None or t.isEmpty() or not (t.left() <= x < t.left() + t.width()
                                                       and t.top() <= y < t.top() + t.height()):
            return None
        return (int((x - t.left()) * self._image.width() / t.width()),
                int((y - t.top()) * self._image.height() / t.height()))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        point = self.image_point(event.position().x(), event.position().y())
        if point is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(*point)
        super().mousePressEvent(event)
