"""Waiting on the window's jobs: every job reports JobEvents, and a result is in the gallery once the
session's writer thread says so."""
from __future__ import annotations

from collections.abc import Callable

from studio.core.events import JobEvent
from studio.workers.generation import JobResult

LONG = 120_000  # ms; the first job loads the sentence encoder


def is_kind(kind: str) -> Callable[[JobEvent], bool]:
    return lambda ev: ev.kind == kind


def frames_of(window) -> list:
    """Every Frame the window's generation jobs show from now on."""
    seen: list = []
    window.controller.event.connect(lambda ev: seen.append(ev.frame) if ev.kind == "frame" else None)
    return seen


def run(qtbot, window, trigger: Callable[[], object], timeout: int = LONG) -> JobResult:
    """Trigger a generation; its result once it is also written to the gallery. An error fails at once."""
    state: dict = {}

    def on_event(ev: JobEvent) -> None:
        if ev.kind == "result":
            state["result"] = ev.result
        elif ev.kind == "error":
            state["error"] = ev.message

    def on_saved(items) -> None:
        result = state.get("result")
        if result is not None and items and items[0].request == result.request:
            state["saved"] = True

    window.controller.event.connect(on_event)
    window.session.saved.connect(on_saved)
    try:
        trigger()
        qtbot.waitUntil(lambda: "saved" in state or "error" in state, timeout=timeout)
    finally:
        window.controller.event.disconnect(on_event)
        window.session.saved.disconnect(on_saved)
    assert "error" not in state, state["error"]
    return state["result"]
