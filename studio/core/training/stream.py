"""Batch streams whose position can be saved and restored, so a resumed run sees the very batches an
uninterrupted one would have seen.

A resumable stream is an endless iterator with two more methods: ``state()`` returns where it is, as
small JSON (epoch, batch index, ...) and tensors (its random generators' states, uint8), and
``restore(info, tensors)`` puts a freshly built stream of the same data back there. The shared
streams (``data.batches.CaptionedBatches``, ``binary.Binarized``) implement them; any other iterator
is wrapped in ``Replayed``, which counts the batches taken and takes as many again on resume: exact
for a stream its seed determines, only slower.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

import torch

from ..errors import TrainingError

Tensors = dict[str, torch.Tensor]


@runtime_checkable
class Resumable(Protocol):
    def __next__(self) -> Any: ...

    def state(self) -> tuple[dict, Tensors]: ...

    def restore(self, info: dict, tensors: Tensors) -> None: ...


def nest(prefix: str, state: tuple[dict, Tensors]) -> tuple[dict, Tensors]:
    """An inner stream's state under ``prefix`` (a wrapper saves its own beside it)."""
    info, tensors = state
    return {prefix: info}, {f"{prefix}.{k}": v for k, v in tensors.items()}


def inner(prefix: str, info: dict, tensors: Tensors) -> tuple[dict, Tensors]:
    """The part of a wrapper's saved state that belongs to its inner stream."""
    p = prefix + "."
    return info.get(prefix, {}), {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


def check_same(stream: str, info: dict, **now: Any) -> None:
    """Refuse to resume a stream over other data than it was saved with (another --limit, batch size...)."""
    changed = {k: (info.get(k), v) for k, v in now.items() if info.get(k) != v}
    if changed:
        what = ", ".join(f"{k} {old} then, {new} now" for k, (old, new) in changed.items())
        raise TrainingError(f"Cannot resume: the {stream} data stream differs from the saved run's ({what}).")


class Replayed:
    """Any iterator made resumable by counting: restoring takes the saved number of batches again."""

    def __init__(self, batches: Iterator) -> None:
        self.batches = iter(batches)
        self.taken = 0

    def __iter__(self) -> "Replayed":
        return self

    def __next__(self):
        batch = next(self.batches)
        self.taken += 1
        return batch

    def state(self) -> tuple[dict, Tensors]:
        return {"kind": "replayed", "batches": self.taken}, {}

    def restore(self, info: dict, tensors: Tensors) -> None:
        for _ in range(int(info.get("batches", 0)) - self.taken):
            next(self)


class Mapped:
    """``fn`` applied to every batch of a resumable stream (a deterministic map: tokenising, moving)."""

    def __init__(self, stream: Resumable, fn: Callable[[Any], Any]) -> None:
        self.stream, self.fn = stream, fn

    def __iter__(self) -> "Mapped":
        return self

    def __next__(self):
        return self.fn(next(self.stream))

    def state(self) -> tuple[dict, Tensors]:
        return self.stream.state()

    def restore(self, info: dict, tensors: Tensors) -> None:
        self.stream.restore(info, tensors)


def resumable(batches: Iterator) -> Resumable:
    return batches if isinstance(batches, Resumable) else Replayed(batches)
