"""The guard against PySide6 6.12's emit taking a reference from True each time."""
from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

from studio.workers.refcount import LOW, keep_true_alive


class Emitter(QObject):
    fired = Signal(object)


def test_true_keeps_enough_references_through_many_emits(qtbot):
    e = Emitter()
    seen = []
    e.fired.connect(seen.append)
    keep_true_alive()
    assert sys.getrefcount(True) >= LOW or sys.version_info >= (3, 12)
    for i in range(2000):
        e.fired.emit(i)
    keep_true_alive()
    assert sys.getrefcount(True) >= LOW or sys.version_info >= (3, 12)
    assert len(seen) == 2000
