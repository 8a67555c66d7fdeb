"""How the main window's docks are arranged, and how the window is kept on its screen.

The window never grows past the screen's available geometry: it is capped at it, and no dock can ask
for more, because the contents of the tall docks scroll when the screen is short (the Controls do
not: Generate and Cancel must never scroll out of sight). On a short screen the Latent dock opens as
a tab beside Model rather than as a fourth dock down the left. A saved layout that does not fit the
screen is not restored, and View → Reset layout brings back the default arrangement at any time."""
from __future__ import annotations

import struct
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QWidget

LEFT, RIGHT = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
SCROLLED = ("Model", "Prompt", "Latent", "Interpolate", "Training", "Blend", "Compare")  # contents scroll when short
DEFAULT_SIZE = QSize(1360, 860)
GEOMETRY_MAGIC = 0x1D9D0CB  # QWidget::saveGeometry's format: magic, version, frame rect, ...
LATENT_ROOM = 360  # px the Latent dock wants under the others; with less, it opens as a tab


def make_dock(window: QMainWindow, title: str, widget: QWidget) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(f"dock-{title.lower()}")
    if title in SCROLLED:
        scroll = QScrollArea()
        scroll.setObjectName(f"scroll-{title.lower()}")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        widget = scroll
    dock.setWidget(widget)
    return dock


def saved_geometry(geometry: object) -> tuple[QRect, QRect] | None:
    """The window frame and the window's own (normal) rectangle in a ``QWidget.saveGeometry()`` blob,
    or None if it is not one. Read here because ``restoreGeometry`` changes what it restores: it
    shrinks a window larger than the screen (whose saved dock layout is then squeezed into it) and
    guesses a title bar for a window not shown yet."""
    if not isinstance(geometry, (bytes, bytearray, QByteArray)):
        return None  # QSettings may hand back anything a user wrote into the file (bytes(10**10) is 10 GB)
    try:
        data = bytes(geometry)
        magic, major, _minor, *corners = struct.unpack(">IHHiiiiiiii", data[:40])
    except (TypeError, ValueError, struct.error):
        return None
    if magic != GEOMETRY_MAGIC or major > 3:
        return None
    left, top, right, bottom, n_left, n_top, n_right, n_bottom = corners
    return QRect(QPoint(left, top), QPoint(right, bottom)), QRect(QPoint(n_left, n_top), QPoint(n_right, n_bottom))


class WindowLayout:
    """The dock arrangement of ``window`` and its fit to ``screen_rect()`` (the available geometry)."""

    def __init__(self, window: QMainWindow, docks: dict[str, QDockWidget], screen_rect: Callable[[], QRect]) -> None:
        self.window, self.docks, self.screen_rect = window, docks, screen_rect

    # --- the default arrangement -------------------------------------------------------------------
    def place(self) -> None:
        """Model (Phrases), Prompt, Controls and Latent down the left; the Preview, then the Gallery
        (Latent map) over the Queue (Interpolate, Training, Blend) on the right; Compare a tab beside the Preview."""
        w, d = self.window, self.docks
        for title in ("Model", "Prompt", "Controls"):
            w.addDockWidget(LEFT, d[title])
        w.addDockWidget(RIGHT, d["Preview"])
        w.addDockWidget(RIGHT, d["Gallery"])
        w.splitDockWidget(d["Preview"], d["Gallery"], Qt.Orientation.Horizontal)
        w.addDockWidget(RIGHT, d["Queue"])
        w.splitDockWidget(d["Gallery"], d["Queue"], Qt.Orientation.Vertical)
        w.addDockWidget(LEFT, d["Latent"])
        w.splitDockWidget(d["Controls"], d["Latent"], Qt.Orientation.Vertical)
        w.addDockWidget(RIGHT, d["Latent map"])
        w.tabifyDockWidget(d["Gallery"], d["Latent map"])
        for title in ("Interpolate", "Training", "Blend"):
            w.addDockWidget(RIGHT, d[title])
            w.tabifyDockWidget(d["Queue"], d[title])
        w.addDockWidget(LEFT, d["Phrases"])
        w.tabifyDockWidget(d["Model"], d["Phrases"])
        w.addDockWidget(RIGHT, d["Compare"])
        w.tabifyDockWidget(d["Preview"], d["Compare"])
        d["Preview"].raise_()
        d["Queue"].raise_()
        d["Model"].raise_()

    def default_size(self) -> None:
        """The default window size, as far as the screen allows, and the default dock proportions."""
        w, d, room = self.window, self.docks, self.room()
        w.resize(DEFAULT_SIZE.boundedTo(room))
        w.resizeDocks([d["Model"], d["Preview"], d["Gallery"]], [300, 640, 420], Qt.Orientation.Horizontal)
        w.resizeDocks([d["Gallery"], d["Queue"]], [600, 240], Qt.Orientation.Vertical)

    def reset(self) -> None:
        """Every dock back in its default place, shown and docked (the caller hides what its family lacks)."""
        for dock in self.docks.values():
            dock.setFloating(False)
            self.window.removeDockWidget(dock)
        self.place()
        for dock in self.docks.values():
            dock.show()

    def arrange_latent(self) -> None:
        """The Latent dock's first showing: under the Controls where the left column has room for it,
        else as a tab beside Model (raised), so the column never needs more than the screen."""
        w, d = self.window, self.docks
        latent = d["Latent"]
        if latent.isFloating() or w.dockWidgetArea(latent) != LEFT or w.tabifiedDockWidgets(latent):
            return  # arranged by the user (a restored layout): theirs to keep
        above = [d[t] for t in ("Model", "Prompt", "Controls")]
        need = sum(dock.sizeHint().height() for dock in above) + LATENT_ROOM
        if need > self.dock_height():
            w.tabifyDockWidget(d["Model"], latent)
            latent.raise_()
            # The Controls as tall as they ask, the Prompt a few lines; the sliders take the rest.
            controls = d["Controls"].sizeHint().height()
            docks, heights = [latent, d["Prompt"], d["Controls"]], [self.dock_height() - 120 - controls, 120, controls]
        else:
            docks, heights = above + [latent], [200, 110, 90, 520]
        QTimer.singleShot(0, lambda: w.resizeDocks(docks, heights, Qt.Orientation.Vertical))  # once shown

    # --- the screen ----------------------------------------------------------------------------------
    def frame_extra(self) -> QSize:
        """What the window manager's frame adds to the window's size (nothing before it is shown)."""
        w = self.window
        return (w.frameGeometry().size() - w.geometry().size()).expandedTo(QSize(0, 0))

    def room(self) -> QSize:
        """The largest window size whose frame fits the screen."""
        return (self.screen_rect().size() - self.frame_extra()).expandedTo(QSize(1, 1))

    def dock_height(self) -> int:
        """The height the docks share in a window as tall as the screen allows."""
        w = self.window
        return self.room().height() - w.menuBar().sizeHint().height() - w.statusBar().sizeHint().height()

    def fits(self) -> bool:
        return self.screen_rect().contains(self.window.frameGeometry())

    def fit(self) -> None:
        """Cap the window at the screen, so nothing can grow it past the edge, and bring it back onto
        the screen if it lies partly off it."""
        w, screen = self.window, self.screen_rect()
        w.setMaximumSize(self.room())
        frame = w.frameGeometry()
        if not screen.contains(frame):
            x = max(screen.left(), min(frame.left(), screen.right() + 1 - frame.width()))
            y = max(screen.top(), min(frame.top(), screen.bottom() + 1 - frame.height()))
            w.move(x, y)
