"""LatentWorker: interactive decoding for the latent panel, map and interpolation strip.

Slider moves arrive far faster than anything can be drawn, so requests are not queued: each kind
keeps only its newest request ("latest wins"), and the worker thread drains them in priority order.
It runs on its own QThread, apart from the generation pool, so a slider stays live while a long
diffusion job runs; a decode of these small decoders costs about a millisecond.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..core.errors import StudioError

ORDER = ("load", "prior", "encode", "decode", "map", "strip")  # drained in this order
MAP_CHUNK = 16  # map tiles decoded at a time: a chunk of a GAN takes ~20 ms


def _default_loader(checkpoint: str):
    from ..core.device import pick_device
    from ..core.families import load_model

    return load_model(checkpoint, pick_device())


class _Worker(QObject):
    """Lives on the latent thread; every method below except ``post`` runs there."""

    loaded = Signal(str, object)  # checkpoint id, the family object
    decoded = Signal(object, object)  # z (D,), image (H, W, C) uint8
    priorReady = Signal(str, object)  # tag, z drawn from the prior for a seed
    encoded = Signal(str, object, object, object, str)  # tag, z, input image, reconstruction, note
    mapReady = Signal(object, object)  # key, images (n*n, H, W, C)
    stripReady = Signal(object, object)  # zs, images (F, H, W, C)
    failed = Signal(str, str)  # kind, message
    _wake = Signal()

    def __init__(self, loader: Callable[[str], object]) -> None:
        super().__init__()
        self._loader = loader
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], tuple] = {}  # (kind, tag) -> arguments
        self.model = None
        self._wake.connect(self._drain)

    def post(self, kind: str, tag: str, *args) -> None:
        """Any thread: replace the pending request of this kind and tag, then wake the worker."""
        with self._lock:
            self._pending[(kind, tag)] = args
        self._wake.emit()

    def clear(self) -> None:
        """Any thread: drop every request not yet started."""
        with self._lock:
            self._pending.clear()

    def _take(self) -> tuple[str, str, tuple] | None:
        with self._lock:
            if not self._pending:
                return None
            key = min(self._pending, key=lambda k: ORDER.index(k[0]))
            return key[0], key[1], self._pending.pop(key)

    @Slot()
    def _drain(self) -> None:
        while (item := self._take()) is not None:
            kind, tag, args = item
            try:
                getattr(self, f"_do_{kind}")(tag, *args)
            except StudioError as e:
                self.failed.emit(kind, str(e))
            except Exception as e:  # noqa: BLE001 - shown to the user, never lost in a thread
                self.failed.emit(kind, f"{type(e).__name__}: {e}")

    def _need_model(self):
        if self.model is None:
            raise StudioError("No latent model is loaded yet.")
        return self.model

    def _do_load(self, _tag: str, checkpoint: str) -> None:
        self.model = None
        self.model = self._loader(checkpoint)
        if not hasattr(self.model, "decode"):
            self.model = None
            raise StudioError(f"{checkpoint} has no latent vector to explore.")
        self.loaded.emit(checkpoint, self.model)

    def _do_prior(self, tag: str, seed: int, scale: float = 1.0) -> None:
        from ..core.latent_space.family import prior_latents

        self.priorReady.emit(tag, prior_latents(seed, 1, self._need_model().latent_dim)[0] * scale)

    def _do_decode(self, _tag: str, z: np.ndarray, prompt: str) -> None:
        self.decoded.emit(z, self._need_model().decode(z[None], prompt)[0])

    def _do_encode(self, tag: str, path: str, prompt: str) -> None:
        from ..core.images import load_for_model

        m = self._need_model()
        if not hasattr(m, "encode"):
            raise StudioError(f"{m.label} models have no encoder: they only map latents to images, so a "
                              "picture can't be turned into a latent vector.")
        image, note = load_for_model(path, m.image_size[0], m.channels)
        z = m.encode(image[None], prompt)[0]
        self.encoded.emit(tag, z, image, m.decode(z[None], prompt)[0], note)

    def _do_map(self, _tag: str, key: object, zs: np.ndarray, prompt: str) -> None:
        """A plane of tiles takes a GAN a few hundred ms: decode it in chunks and serve slider moves
        that arrive meanwhile first, so the map never holds the sliders up for more than a chunk."""
        m, parts = self._need_model(), []
        for s in range(0, len(zs), MAP_CHUNK):
            self._serve_pending_decode()
            parts.append(m.decode(zs[s:s + MAP_CHUNK], prompt))
        self.mapReady.emit(key, np.concatenate(parts))

    def _serve_pending_decode(self) -> None:
        with self._lock:
            args = self._pending.pop(("decode", ""), None)
        if args is not None:
            self._do_decode("", *args)

    def _do_strip(self, _tag: str, zs: np.ndarray, prompt: str) -> None:
        self.stripReady.emit(zs, self._need_model().decode(zs, prompt))


class LatentController(QObject):
    """GUI-thread handle: ``request(kind, ...)`` posts work; results come back as the worker's
    signals, delivered on the GUI thread."""

    def __init__(self, loader: Callable[[str], object] = _default_loader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("latent-worker")
        self.worker = _Worker(loader)
        self.worker.moveToThread(self.thread)
        self.thread.start()
        w = self.worker
        self.loaded, self.decoded, self.priorReady, self.encoded = w.loaded, w.decoded, w.priorReady, w.encoded
        self.mapReady, self.stripReady, self.failed = w.mapReady, w.stripReady, w.failed
        self.checkpoint: str | None = None

    def load(self, checkpoint: str) -> None:
        if checkpoint != self.checkpoint:
            self.checkpoint = checkpoint
            self.worker.clear()  # work for the previous model is now meaningless
            self.worker.post("load", "", checkpoint)

    def request(self, kind: str, *args, tag: str = "") -> None:
        """Post work; a newer request of the same kind and tag replaces one not yet started."""
        if kind not in ORDER or kind == "load":
            raise ValueError(f"unknown latent request {kind!r}")
        self.worker.post(kind, tag, *args)

    def shutdown(self) -> None:
        self.thread.quit()
        self.thread.wait(5000)
