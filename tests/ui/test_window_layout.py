"""Reading a saved window geometry (studio.ui.window_layout.saved_geometry): whatever bytes the
settings file holds, it answers a rectangle or None and never raises; for what Qt saves, it reads
the frame Qt saved, which is what decides whether a saved layout is restored on a smaller screen."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QByteArray, QRect
from PySide6.QtWidgets import QMainWindow

from studio.ui.window_layout import GEOMETRY_MAGIC, saved_geometry


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=80),
                 st.binary(min_size=36, max_size=80).map(lambda b: GEOMETRY_MAGIC.to_bytes(4, "big") + b),
                 st.none(), st.integers(), st.text(max_size=20)))
def test_any_saved_value_reads_as_rectangles_or_none(value):
    found = saved_geometry(value)
    assert found is None or (len(found) == 2 and all(isinstance(r, QRect) for r in found))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=st.integers(-2000, 4000), y=st.integers(-2000, 4000), w=st.integers(200, 4000), h=st.integers(200, 3000))
def test_the_frame_qt_saved_is_read_back(qtbot, x, y, w, h):
    window = QMainWindow()
    window.setGeometry(x, y, w, h)
    frame, normal = saved_geometry(window.saveGeometry())
    assert frame == window.frameGeometry() and normal.size() == window.size()
    assert saved_geometry(QByteArray(bytes(window.saveGeometry()))) == (frame, normal)
    window.deleteLater()
