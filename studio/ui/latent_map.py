"""The Latent map: decoded images tiled over a plane of the latent space, the encoded test images
scattered over it coloured by class, and a marker at the current vector. Click or drag anywhere to
move the vector there. For latents above 2-D the plane goes through the current vector along two
chosen basis directions."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ..core.images import grid
from ..core.latent_space.basis import LatentBasis

EXTENT = 3.0
# Tableau 10: distinct on the dark background and to most colour-blind readers.
CLASS_COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                 "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]


class _PickBox(pg.ViewBox):
    """A view box where clicking or dragging picks a point instead of panning."""

    def __init__(self, picked) -> None:
        super().__init__(lockAspect=True, enableMenu=False)
        self._picked = picked
        self.setMouseEnabled(False, False)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        self._picked(p.x(), p.y())

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        self._picked(p.x(), p.y())


class LatentMapPanel(QWidget):
    pointPicked = Signal(int, float, int, float)  # axis i, coordinate, axis j, coordinate
    mosaicWanted = Signal(object, object)  # key, (n*n, D) latents to decode

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.basis: LatentBasis | None = None
        self.points: np.ndarray | None = None  # encoded images, in basis coordinates
        self.labels: np.ndarray | None = None
        self.z: np.ndarray | None = None
        self._key: object = None
        self._shown_key: object = None  # the plane the tiles on screen belong to
        self.x_axis, self.y_axis = QComboBox(), QComboBox()
        self.tiles = QSpinBox(minimum=5, maximum=25, value=15)
        self.tiles.setToolTip("Decoded images per side")
        self.show_points = QCheckBox("encoded test images")
        self.show_points.setChecked(True)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.view = _PickBox(self._picked)
        self.plot = pg.PlotWidget(viewBox=self.view)
        self.plot.setBackground(QColor(30, 30, 34))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.scatter = pg.ScatterPlotItem(size=3, pen=None)
        self.marker = pg.ScatterPlotItem(size=16, symbol="+", pen=pg.mkPen("w", width=3), brush=None)
        self.legend = pg.LegendItem(offset=(-4, 4), labelTextSize="7pt", brush=pg.mkBrush(30, 30, 34, 200))
        self.legend.setParentItem(self.plot.getPlotItem())
        for item in (self.image, self.scatter, self.marker):
            self.plot.addItem(item)
        self.plot.setLabel("bottom", "")
        self.plot.setLabel("left", "")

        axes = QHBoxLayout()
        axes.addWidget(QLabel("x"))
        axes.addWidget(self.x_axis, 1)
        axes.addWidget(QLabel("y"))
        axes.addWidget(self.y_axis, 1)
        axes.addWidget(QLabel("tiles"))
        axes.addWidget(self.tiles)
        axes.addWidget(self.show_points)
        layout = QVBoxLayout(self)
        layout.addLayout(axes)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)
        self.setEnabled(False)

        self._refresh = QTimer(self, singleShot=True, interval=120)  # coalesce slider drags
        self._refresh.timeout.connect(self.request_mosaic)
        self.x_axis.currentIndexChanged.connect(self._axes_changed)
        self.y_axis.currentIndexChanged.connect(self._axes_changed)
        self.tiles.valueChanged.connect(lambda _v: self.request_mosaic())
        self.show_points.toggled.connect(self.scatter.setVisible)

    # --- model ----------------------------------------------------------------------------------------
    def set_model(self, basis: LatentBasis, points: np.ndarray | None, labels: np.ndarray | None,
                  class_names: list[str], source: str, conditional: bool = False) -> None:
        self.basis = basis
        self.points = basis.to_coords(points)[0] if points is not None else None
        self.labels = labels
        self.z = basis.origin.copy()
        for combo, default in ((self.x_axis, 0), (self.y_axis, min(1, len(basis) - 1))):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(basis.names)
            combo.setCurrentIndex(default)
            combo.blockSignals(False)
        self.show_points.setVisible(points is not None)  # a GAN has no encoded images to show
        self.x_axis.setEnabled(len(basis) > 2)
        self.y_axis.setEnabled(len(basis) > 2)
        self.legend.clear()
        if labels is not None:
            for k, name in enumerate(class_names):
                if (labels == k).any():
                    self.legend.addItem(pg.ScatterPlotItem(pen=None, brush=CLASS_COLOURS[k % 10], size=8), name)
        text = "Click or drag to decode a point."
        if points is not None:
            text = f"Points: {source}, at their posterior means. " + text
            if conditional:
                text += (" The prompt tells this conditional VAE the class, so the classes overlap here: "
                         "the latent holds the style (shape, shade, size), and tiles follow the prompt.")
        self.caption.setText(text)
        self.setEnabled(True)
        self._axes_changed()

    def clear_model(self) -> None:
        self.basis = None
        self.image.clear()
        self.scatter.clear()
        self.marker.clear()
        self.legend.clear()
        self.setEnabled(False)

    def axes(self) -> tuple[int, int]:
        return self.x_axis.currentIndex(), self.y_axis.currentIndex()

    # --- drawing --------------------------------------------------------------------------------------
    def _axes_changed(self) -> None:
        if self.basis is None:
            return
        i, j = self.axes()
        names = self.basis.names
        self.plot.setLabel("bottom", names[i])
        self.plot.setLabel("left", names[j])
        if self.points is not None and self.labels is not None:
            colours = [QColor(c) for c in CLASS_COLOURS]
            for c in colours:
                c.setAlpha(170)  # the decoded tiles stay visible under the points
            brushes = [pg.mkBrush(colours[int(k) % 10]) for k in self.labels]
            self.scatter.setData(pos=self.points[:, [i, j]], brush=brushes)
        self.view.setRange(QRectF(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT), padding=0.08)
        self._update_marker()
        self.request_mosaic()

    def set_latent(self, z: np.ndarray) -> None:
        """Follow the current vector: move the marker, and redraw the plane if it left it."""
        if self.basis is None:
            return
        old = self.z
        self.z = np.asarray(z, np.float32)
        self._update_marker()
        if old is None or self._off_plane(old, self.z):
            self._refresh.start()

    def _off_plane(self, a: np.ndarray, b: np.ndarray) -> bool:
        i, j = self.axes()
        ca, ra = self.basis.to_coords(a)
        cb, rb = self.basis.to_coords(b)
        keep = np.ones(len(ca), bool)
        keep[[i, j]] = False
        return bool(np.abs(ca[keep] - cb[keep]).max(initial=0) > 1e-4 or np.abs(ra - rb).max(initial=0) > 1e-4)

    def _update_marker(self) -> None:
        if self.z is None:
            return
        c, _ = self.basis.to_coords(self.z)
        i, j = self.axes()
        self.marker.setData(pos=[(float(c[i]), float(c[j]))])

    def request_mosaic(self) -> None:
        if self.basis is None or self.z is None:
            return
        i, j = self.axes()
        n = self.tiles.value()
        self._key = (i, j, n, self.z.tobytes())
        self.mosaicWanted.emit(self._key, self.basis.plane(self.z, i, j, n, EXTENT))

    def refresh(self) -> None:
        """Redraw with the same plane (e.g. the prompt changed what a conditional decoder draws)."""
        self.request_mosaic()

    def set_mosaic(self, key: object, images: np.ndarray) -> None:
        if key != self._key:
            return  # an older plane than the one now shown
        self._shown_key = key
        _, _, n, _ = key
        mosaic = grid(images, cols=n, pad=0)
        img = mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic
        self.image.setImage(np.flipud(img), levels=(0, 255))  # row 0 is drawn at the bottom
        step = 2 * EXTENT / (n - 1)
        self.image.setRect(QRectF(-EXTENT - step / 2, -EXTENT - step / 2, 2 * EXTENT + step, 2 * EXTENT + step))

    def _picked(self, x: float, y: float) -> None:
        if self.basis is None:
            return
        i, j = self.axes()
        x, y = float(np.clip(x, -EXTENT, EXTENT)), float(np.clip(y, -EXTENT, EXTENT))
        self.pointPicked.emit(i, x, j, y)
