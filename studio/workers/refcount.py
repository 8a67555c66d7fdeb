"""A guard against a PySide6 6.12 reference-count bug.

``SignalInstance.emit`` (and ``disconnect``) return True without a new reference, so on Python 3.11
every call from Python takes one reference away from True. Torch and the UI leave True ~10^4
references, so after that many emits (a few long runs' frames, a minute of slider moves) True is
freed and the interpreter aborts ("bool_dealloc: deallocating True or False") or crashes at random.
``keep_true_alive`` tops the count up from a reserve of references; the workers call it before every
emit and the session on a timer, which covers the emits of the panels. It costs one integer compare
when nothing is wrong, and does nothing on Pythons where True is immortal (3.12+).
"""
from __future__ import annotations

import sys
import threading

LOW = 200_000  # top up below this many references: more than any run emits between two checks
CHUNK = 1_000_000  # references added at a time (a list of 8 MB)

_reserve: list[list[bool]] = []
_lock = threading.Lock()
_IMMORTAL = sys.version_info >= (3, 12)


def keep_true_alive() -> None:
    if _IMMORTAL or sys.getrefcount(True) >= LOW:
        return
    with _lock:
        if sys.getrefcount(True) < LOW:
            _reserve.append([True] * CHUNK)  # each element is a reference the buggy emits may take
