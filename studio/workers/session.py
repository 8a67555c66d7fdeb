"""StudioSession: what the main window decides, with no widgets, so it can be driven and tested alone.

It keeps the state that outlives one click: the last result (for redrawing from a pixel), settings
restored from a saved image (their checkpoint hash, and their redraws while their seed is kept), the
image-to-image input, and a running blend sweep. It also does the slow parts off the GUI thread: an
input image is read and fitted to the loaded model on the model thread, and gallery writes (PNG
encoding and the SQLite index) run on a writer thread of their own. The window only presents what the
signals below report. Which family may do what is read from the catalog's declared capabilities.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ..core.catalog import CATALOG, FamilyInfo
from ..core.errors import StudioError
from ..core.events import JobEvent
from ..core.request import GenerationRequest
from ..store.gallery import GalleryStore
from .generation import GenerationController, JobResult
from .refcount import keep_true_alive
from .runner import Job, JobRunner

NO_CHECKPOINT = "No checkpoint is selected: pick one in the Model panel."


@dataclass(frozen=True)
class InputImage:
    """The image-to-image input: its hash in the inputs store and its pixels, fitted to the model."""

    hash: str
    image: np.ndarray | None = None  # (H, W, C) uint8; None while it is being read
    note: str = ""  # what was done to the dropped file to fit it ("" when restored from settings)
    name: str = ""  # the dropped file's name


def family_info(name: str) -> FamilyInfo | None:
    return CATALOG.get(name)


def can(name: str, capability: str) -> bool:
    info = family_info(name)
    return info is not None and info.can(capability)


class StudioSession(QObject):
    message = Signal(str, bool)  # text, whether it is an error
    inputChanged = Signal(object)  # InputImage, or None when there is none
    saved = Signal(object)  # list[GalleryItem] just written to the gallery
    sweepProgress = Signal(int, int)  # images done, images in the sweep
    sweepFinished = Signal(object)  # list of (B, H, W, C) images, in mix order

    def __init__(self, store: GalleryStore, generation: GenerationController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store, self.generation = store, generation
        self.writer = JobRunner("gallery-writer", self)  # PNG encoding and SQLite off the GUI thread
        self.last_result: JobResult | None = None
        self.input: InputImage | None = None
        self._pinned_hash: tuple[str, str] | None = None  # (checkpoint id, hash) of restored settings
        # Redraws of restored settings, kept while their seed is: Generate then reproduces that image.
        self._redraws: tuple[int, tuple] = (-1, ())
        self._sweep: dict | None = None  # job ids of a running prompt sweep, and their images
        generation.event.connect(self._on_generation)
        # The panels' own emits (slider moves, an interpolation playing) need the guard too.
        self._guard = QTimer(self, interval=1000)
        self._guard.timeout.connect(keep_true_alive)
        self._guard.start()
        keep_true_alive()

    # --- requests -------------------------------------------------------------------------------
    def complete(self, request: GenerationRequest) -> GenerationRequest:
        """The panels' request plus what the session holds: the input image (for families that start
        from one), and what restored settings pin: the checkpoint's hash (so a changed file is
        noticed) and their redraws, while the seed is still theirs."""
        pinned = self._pinned_hash[1] if self._pinned_hash and self._pinned_hash[0] == request.checkpoint else ""
        h = self.input.hash if self.input is not None and can(request.family, "img2img") else ""
        # Only the controls the family declares: a disabled prompt box's text is not sent (nor refused).
        request = request.with_(checkpoint_hash=pinned, init_image=h).normalized()
        seed, redraws = self._redraws
        if redraws and request.seed == seed and can(request.family, "redraw"):
            request = request.with_(redraws=redraws)
        return request

    def restore(self, request: GenerationRequest) -> None:
        """Saved settings were put back in the panels: remember what the panels cannot show."""
        self._redraws = (request.seed, request.redraws)
        self._pinned_hash = (request.checkpoint, request.checkpoint_hash) if request.checkpoint_hash else None
        self.show_input(request.init_image)

    def submit(self, request: GenerationRequest | None) -> str | None:
        """Generate (or queue) ``request``; None, with a message, when it cannot be."""
        if request is None:
            self.message.emit(NO_CHECKPOINT, True)
            return None
        try:
            return self.generation.submit(request)
        except StudioError as e:
            self.message.emit(str(e), True)
            return None

    def submit_prompts(self, base: GenerationRequest | None, prompts: list[str]) -> list[str]:
        """Each prompt with the settings of ``base`` and its seed (not a new one)."""
        if base is None:
            self.message.emit(NO_CHECKPOINT, True)
            return []
        try:
            return [self.generation.submit(base.with_(prompt=p)) for p in prompts]
        except StudioError as e:
            self.message.emit(str(e), True)
            return []

    def sweep(self, base: GenerationRequest | None, prompts: list[str]) -> list[str]:
        """Blend sweep: one image per mix, all with the same seed, collected in order for the GIF."""
        ids = self.submit_prompts(base, prompts)
        if ids:
            self._sweep = {"ids": ids, "images": {}}
        return ids

    def redraw_hint(self) -> str:
        """What a click on the last result does ("" when nothing)."""
        result = self.last_result
        if result is not None and can(result.request.family, "redraw"):
            return "Click a pixel to draw everything after it again (a new seed from there on)"
        return ""

    def redraw_after(self, index: int, row: int, col: int) -> str | None:
        """Draw the last result again from the clicked pixel on, with a new seed for that part;
        everything before it stays as it is (families that draw in raster order)."""
        result = self.last_result
        if result is None or not can(result.request.family, "redraw") or self.generation.busy:
            return None
        req = result.request
        seed = random.randint(0, 2**31 - 1)
        self.message.emit(f"Redrawing everything after pixel ({col}, {row}) of image {index + 1} with seed {seed}.",
                          False)
        return self.submit(req.redrawn_from(row * req.width + col, seed))

    # --- the image-to-image input ---------------------------------------------------------------------
    def set_input_image(self, path: str, checkpoint: str | None, info: FamilyInfo,
                        size: tuple[int, int] | None = None) -> bool:
        """Read ``path`` and fit it to the model of ``checkpoint`` on the model thread; ``inputChanged``
        reports it. False (with the family's message) when it cannot start from an image. ``size``
        (width, height): for models that draw at any size, the size asked for."""
        if not info.can("img2img"):
            self.message.emit(info.refusal("img2img"), True)
            return False
        if checkpoint is None:
            self.message.emit(NO_CHECKPOINT, True)
            return False
        gen = self.generation

        def work(job: Job) -> Iterator[JobEvent]:
            from ..core.images import load_for_model
            from ..store.inputs import store_input

            f = gen.model(checkpoint).image_format
            w, h = size or (f.frame_width, f.height)  # a clip starts from one frame
            image, note = load_for_model(path, w, f.channels, height=h, dark_background=f.dark_background)
            yield job.event("result", result=InputImage(store_input(image), image, note, Path(path).name))
        gen.post(work, self._input_loaded)
        return True

    def show_input(self, h: str) -> None:
        """Use the stored input ``h`` (restored settings) at once; its pixels follow, read off the GUI thread."""
        if not h:
            self.clear_input()
            return
        self._set_input(InputImage(h))

        def work(job: Job) -> Iterator[JobEvent]:
            from ..store.inputs import load_input

            yield job.event("result", result=InputImage(h, load_input(h)))

        def loaded(ev: JobEvent) -> None:
            # A missing input is said when Generate needs it, not now; a newer input wins.
            if ev.kind == "result" and self.input is not None and self.input.hash == h:
                self._set_input(ev.result)
        self.writer.post(work, on_event=loaded)

    def clear_input(self) -> None:
        self._set_input(None)

    def _set_input(self, value: InputImage | None) -> None:
        self.input = value
        self.inputChanged.emit(value)

    def _input_loaded(self, ev: JobEvent) -> None:
        if ev.kind == "result":
            self._set_input(ev.result)
        elif ev.kind == "error":
            self.message.emit(ev.message, True)

    # --- the gallery ------------------------------------------------------------------------------------
    def keep(self, request: GenerationRequest, images: np.ndarray, said: str = "") -> str:
        """Write ``images`` of ``request`` to the gallery on the writer thread; ``saved`` reports the
        items, and ``said`` (with {ids}) is the message then."""
        def work(job: Job) -> Iterator[JobEvent]:
            yield job.event("result", result=[self.store.add(image, request, i) for i, image in enumerate(images)])

        def written(ev: JobEvent) -> None:
            if ev.kind == "result":
                self.saved.emit(ev.result)
                if said:
                    self.message.emit(said.format(ids=", ".join(str(item.id) for item in ev.result)), False)
            elif ev.kind == "error":
                self.message.emit(f"The image could not be saved to the gallery: {ev.message}", True)
        return self.writer.post(work, on_event=written)

    # --- generation results ---------------------------------------------------------------------------
    def _on_generation(self, ev: JobEvent) -> None:
        if ev.kind == "result":
            result: JobResult = ev.result
            self.last_result = result
            self.keep(result.request, result.images)
            self._collect_sweep(ev.job, result)
        elif ev.kind in ("error", "cancelled") and self._sweep is not None and ev.job in self._sweep["ids"]:
            self._sweep = None  # one mix is missing: the sweep can no longer be played in order
            self.message.emit("The blend sweep stopped before its last image.", True)

    def _collect_sweep(self, job_id: str, result: JobResult) -> None:
        sw = self._sweep
        if sw is None or job_id not in sw["ids"]:
            return
        sw["images"][job_id] = result.images
        self.sweepProgress.emit(len(sw["images"]), len(sw["ids"]))
        if len(sw["images"]) == len(sw["ids"]):
            self._sweep = None
            self.sweepFinished.emit([sw["images"][i] for i in sw["ids"]])

    def shutdown(self) -> None:
        """Stop generating, and let the gallery writes already asked for finish."""
        self.generation.shutdown()
        self.writer.wait_idle(10.0)
        self.writer.shutdown()
