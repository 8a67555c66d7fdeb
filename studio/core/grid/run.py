"""Running a grid: a plain generator of events, so the CLI prints them and the studio's worker posts
them to the window; stopping the iteration cancels the run between two steps."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import StudioError
from ..events import Frame
from ..families.base import Family
from ..request import GenerationRequest
from .axes import Cell


@dataclass(frozen=True)
class CellResult:
    """A finished cell. ``request`` is the resolved request: generated alone, it makes ``image`` again."""

    cell: Cell
    request: GenerationRequest
    image: np.ndarray  # (H, W, C) uint8


@dataclass(frozen=True)
class GridEvent:
    """``kind``: "loading" (``checkpoint`` is about to load), "frame" (a step of cell ``index``) or
    "cell" (cell ``index`` is finished: ``result``). ``done`` of ``total`` cells are finished."""

    kind: str
    index: int  # the cell's position in the list given to run_grid
    done: int
    total: int
    checkpoint: str = ""
    frame: Frame | None = None
    result: CellResult | None = None


def run_order(cells: Sequence[Cell]) -> list[int]:
    """The cells' indices grouped by checkpoint (in order of first appearance), so each model loads once."""
    first: dict[str, int] = {}
    for i, cell in enumerate(cells):
        first.setdefault(cell.checkpoint, i)
    return sorted(range(len(cells)), key=lambda i: (first[cells[i].checkpoint], i))


def fitted(model: Family, cell: Cell) -> GenerationRequest:
    """The cell's request as ``model`` resolves it. A sampler that came from the base request and that
    this model lacks (a checkpoint axis crossing families) becomes the model's default; one an axis
    asks for is kept, and refused by resolve with the family's message."""
    request = cell.request
    if "sampler" not in cell.fields and model.samplers and request.sampler not in model.samplers:
        request = request.with_(sampler=model.samplers[0])
    return model.resolve(request)


def run_grid(cells: Sequence[Cell], load_model: Callable[[str], Family], *,
             init: np.ndarray | None = None) -> Iterator[GridEvent]:
    """Draw every cell, one model at a time: each cell's frames, then its finished image. ``init``:
    the input image's pixels, for requests that start from one. All of a model's cells are resolved
    as it loads, so a request it refuses stops the run before it draws."""
    total = len(cells)
    order = run_order(cells)
    done = 0
    start = 0
    while start < len(order):
        checkpoint = cells[order[start]].checkpoint
        group = [i for i in order[start:] if cells[i].checkpoint == checkpoint]
        start += len(group)
        yield GridEvent("loading", group[0], done, total, checkpoint=checkpoint)
        model = load_model(checkpoint)
        requests = {i: fitted(model, cells[i]) for i in group}
        for i in group:
            frame = None
            for frame in model.sample(requests[i], init=init):
                yield GridEvent("frame", i, done, total, frame=frame)
            if frame is None:
                raise StudioError(f"{model.checkpoint.id} drew nothing for the grid cell "
                                  f"{', '.join(cells[i].labels)}.")
            done += 1
            result = CellResult(cells[i], requests[i], np.array(frame.preview[0]))
            yield GridEvent("cell", i, done, total, result=result)
        del model  # the next checkpoint's model need not share memory with this one
