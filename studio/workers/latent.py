"""LatentController: interactive decoding for the latent panel, map and interpolation strip.

Slider moves arrive far faster than anything can be drawn, so requests are not queued: each kind and
tag keeps only its newest request ("latest wins"), and more urgent kinds run first, even between the
chunks of a map being tiled. The work runs on its own JobRunner thread, apart from the generation
thread, so a slider stays live while a long diffusion job runs; a decode of these small decoders costs
about a millisecond. Results come back as JobEvents whose kind is the request's ("decoded", "prior",
"encoded", "map", "strip", and "loaded" for the model), each carrying one of the payloads below.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
from PySide6.QtCore import QObject

from ..core.errors import StudioError
from ..core.events import JobEvent
from .runner import Job, JobRunner

ORDER = ("load", "prior", "encode", "decode", "map", "strip")  # most urgent first: the runner's priorities
MAP_CHUNK = 16  # map tiles decoded at a time: a chunk of a GAN takes ~20 ms


@dataclass(frozen=True)
class Loaded:
    checkpoint: str
    model: object  # the Family, for the panels to read its basis and map points


@dataclass(frozen=True)
class Decoded:
    z: np.ndarray  # (D,)
    image: np.ndarray  # (H, W, C) uint8


@dataclass(frozen=True)
class Encoded:
    z: np.ndarray
    image: np.ndarray  # the input, fitted to the model
    reconstruction: np.ndarray
    note: str  # what was done to the file to fit it


@dataclass(frozen=True)
class Tiles:
    key: object  # what the map asked for, so a stale mosaic can be recognised
    images: np.ndarray  # (n*n, H, W, C)


@dataclass(frozen=True)
class Strip:
    zs: np.ndarray  # (F, D)
    images: np.ndarray  # (F, H, W, C)


def _default_loader(checkpoint: str):
    from ..core.device import pick_device
    from ..store.registry import load_model

    return load_model(checkpoint, pick_device())


class LatentController(QObject):
    """GUI-thread handle: ``request(kind, ...)`` posts work; results arrive on ``event``."""

    def __init__(self, loader: Callable[[str], object] = _default_loader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner("latent-worker", self)
        self.event = self.runner.event  # JobEvent, on the GUI thread
        self.checkpoint: str | None = None
        self._loader = loader
        self._model = None  # latent thread only
        self._work: dict[str, Callable[..., Iterator[JobEvent | None]]] = {
            "prior": self._prior, "encode": self._encode, "decode": self._decode, "map": self._map,
            "strip": self._strip}

    def load(self, checkpoint: str) -> None:
        if checkpoint != self.checkpoint:
            self.checkpoint = checkpoint
            self.runner.drop_pending()  # work for the previous model is now meaningless
            self.runner.cancel_running()
            self.runner.post(partial(self._load, checkpoint=checkpoint), key=("load", ""), priority=0)

    def request(self, kind: str, *args, tag: str = "") -> None:
        """Post work; a newer request of the same kind and tag replaces one not yet started."""
        if kind not in self._work:
            raise ValueError(f"unknown latent request {kind!r}")
        work = self._work[kind]
        self.runner.post(lambda job: work(job, *args), key=(kind, tag), priority=ORDER.index(kind), tag=tag)

    def shutdown(self) -> None:
        self.runner.shutdown()

    # --- the latent thread --------------------------------------------------------------------------
    def _need_model(self):
        if self._model is None:
            raise StudioError("No latent model is loaded yet.")
        return self._model

    def _load(self, job: Job, checkpoint: str) -> Iterator[JobEvent]:
        self._model = None
        model = self._loader(checkpoint)
        model.require("decode")  # the family's own words when it has no latent vector
        self._model = model
        yield job.event("loaded", result=Loaded(checkpoint, model))

    def _prior(self, job: Job, seed: int, truncation: float = 1.0) -> Iterator[JobEvent]:
        yield job.event("prior", result=self._need_model().prior_latents(seed, 1, truncation)[0])

    def _decode(self, job: Job, z: np.ndarray, prompt: str) -> Iterator[JobEvent]:
        yield job.event("decoded", result=Decoded(z, self._need_model().decode(z[None], prompt)[0]))

    def _encode(self, job: Job, path: str, prompt: str) -> Iterator[JobEvent]:
        from ..core.images import load_for_model

        m = self._need_model()
        m.require("encode")
        f = m.image_format
        image, note = load_for_model(path, f.width, f.channels)
        z = m.encode(image[None], prompt)[0]
        yield job.event("encoded", result=Encoded(z, image, m.decode(z[None], prompt)[0], note))

    def _map(self, job: Job, key: object, zs: np.ndarray, prompt: str) -> Iterator[JobEvent | None]:
        """A plane of tiles takes a GAN a few hundred ms: decode it in chunks, yielding between them so
        slider moves that arrive meanwhile are served first (decodes are more urgent than maps)."""
        m, parts = self._need_model(), []
        for s in range(0, len(zs), MAP_CHUNK):
            parts.append(m.decode(zs[s:s + MAP_CHUNK], prompt))
            yield None
        yield job.event("map", result=Tiles(key, np.concatenate(parts)))

    def _strip(self, job: Job, zs: np.ndarray, prompt: str) -> Iterator[JobEvent]:
        yield job.event("strip", result=Strip(zs, self._need_model().decode(zs, prompt)))
