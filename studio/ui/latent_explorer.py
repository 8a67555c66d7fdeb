"""Wires the latent panels (sliders, map, interpolation) to the latent worker and to the window:
decoded images go to the preview, kept ones to the gallery with their latent vector."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ..core.events import JobEvent
from ..core.request import GenerationRequest
from ..workers.latent import LatentController, Loaded
from .interpolate_panel import InterpolatePanel
from .latent_map import LatentMapPanel
from .latent_panel import LatentPanel


def describe(model) -> tuple[str, str]:
    """A short line for the panel, and the longer explanation for its tooltip."""
    dim, basis = model.latent_dim, model.basis
    kind = model.basis_kind
    short = f"<b>{dim}-D latent</b> · {'prompt-conditioned' if model.conditional else 'unconditional'} · "
    if kind == "attributes+pcs":
        named = [n for n in basis.names if not n.startswith("PC")]
        short += f"attributes: {', '.join(named)}; {len(basis) - len(named)} principal directions"
        sliders = ("Attribute sliders move along the normal of a linear boundary that the Faces attribute "
                   "classifier draws in latent space (InterFaceGAN), with the other attributes' normals "
                   "projected out so each changes its attribute and little else. One unit is one prior "
                   f"standard deviation. PC sliders: principal directions of {model.pcs_source}.")
    elif kind == "pcs":
        short += f"{len(basis)} principal directions"
        sliders = (f"Sliders: the top {len(basis)} principal directions of {model.pcs_source} "
                   "(directions without variance are left out).")
    else:
        short += "one slider per axis"
        sliders = "Sliders: the latent's own axes, in units of the standard-normal prior."
    cond = ("A conditional VAE: the prompt picks what is drawn, the latent how it looks." if model.conditional
            else "Unconditional: the prompt is ignored.")
    return short, f"{cond} {sliders}"


class LatentExplorer(QObject):
    imageDecoded = Signal(object, object)  # z, (1, H, W, C) image
    message = Signal(str, bool)
    keep = Signal(object, object)  # GenerationRequest with the latent, (1, H, W, C) image
    modelLoaded = Signal(object)  # the loaded family (its .conditional says whether prompts matter)

    def __init__(self, prompt: Callable[[], str], base_request: Callable[[], GenerationRequest | None],
                 controller: LatentController | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._prompt, self._base_request = prompt, base_request
        self.controller = c = controller or LatentController()
        self.panel = LatentPanel()
        self.map = LatentMapPanel()
        self.interpolate = InterpolatePanel(lambda: self.panel.z() if self.panel.basis is not None else None)
        self.model = None
        self.last_image: np.ndarray | None = None
        self.last_z: np.ndarray | None = None
        self._pending_latent: np.ndarray | None = None
        self._end_seeds: dict[str, int] = {}  # interpolation end -> the seed asked for
        self.decodes_shown = 0

        # One handler per kind of the worker's JobEvents; ends ("done", "cancelled") need nothing here.
        self._handlers: dict[str, Callable[[JobEvent], None]] = {
            "loaded": self._loaded, "decoded": self._decoded, "prior": self._prior_ready,
            "encoded": self._encoded, "map": lambda ev: self.map.set_mosaic(ev.result.key, ev.result.images),
            "strip": lambda ev: self.interpolate.show_strip(ev.result.zs, ev.result.images),
            "error": lambda ev: self.message.emit(ev.message, True)}
        c.event.connect(self._on_event)

        p = self.panel
        p.latentChanged.connect(self._latent_changed)
        p.encodeRequested.connect(lambda path: c.request("encode", path, self._prompt(), tag="panel"))
        p.priorRequested.connect(self._prior_for_seed)
        p.keepRequested.connect(self._keep)
        p.message.connect(self.message)
        self.map.pointPicked.connect(lambda i, x, j, y: p.set_coords({i: x, j: y}))
        self.map.mosaicWanted.connect(lambda key, zs: c.request("map", key, zs, self._prompt()))
        it = self.interpolate
        it.priorWanted.connect(self._end_from_seed)
        it.encodeWanted.connect(lambda name, path: c.request("encode", path, self._prompt(), tag=name))
        it.stripWanted.connect(lambda zs: c.request("strip", zs, self._prompt()))
        it.playFrame.connect(lambda img: self.imageDecoded.emit(None, img))
        it.message.connect(self.message)
        self._prompt_timer = QTimer(self, singleShot=True, interval=200)
        self._prompt_timer.timeout.connect(self._prompt_settled)

    # --- model -----------------------------------------------------------------------------------------
    def load(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            self.model = None
            self.controller.checkpoint = None
            self.panel.clear_model("This family has no latent vector to explore.")
            self.map.clear_model()
            self.interpolate.reset()
            return
        if checkpoint != self.controller.checkpoint:
            self.model = None
            self.panel.clear_model("Loading…")
            self.map.clear_model()
            self.interpolate.reset()
            self.controller.load(checkpoint)

    def _on_event(self, ev: JobEvent) -> None:
        handler = self._handlers.get(ev.kind)
        if handler is not None:
            handler(ev)

    def _loaded(self, ev: JobEvent) -> None:
        loaded: Loaded = ev.result
        if loaded.checkpoint != self.controller.checkpoint:
            return  # the user picked another checkpoint while this one loaded
        self.model = model = loaded.model
        lm = model.latent_map
        self.map.set_model(model.basis, None if lm is None else lm.points, None if lm is None else lm.labels,
                           [] if lm is None else lm.class_names, "" if lm is None else lm.source,
                           conditional=model.conditional)
        self.panel.set_model(model.basis, *describe(model), can_encode=model.can("encode"))
        if self._pending_latent is not None and len(self._pending_latent) == model.latent_dim:
            self.panel.set_latent(self._pending_latent)
        self._pending_latent = None
        self.modelLoaded.emit(model)

    def set_latent(self, z: np.ndarray) -> None:
        """Show a given vector (restored settings); waits for the model if it is still loading."""
        if self.model is not None and len(z) == self.model.latent_dim:
            self.panel.set_latent(np.asarray(z, np.float32))
        else:
            self._pending_latent = np.asarray(z, np.float32)

    def follow_seed(self, seed: int, truncation: float = 1.0) -> None:
        """After Generate drew from the prior, move the sliders to that vector (without redrawing)."""
        if self.model is not None:
            self.controller.request("prior", seed, truncation, tag="follow")

    # --- requests and results ----------------------------------------------------------------------------
    def _latent_changed(self, z: np.ndarray, decode: bool) -> None:
        self.map.set_latent(z)
        if decode:
            self.controller.request("decode", z, self._prompt())

    def prompt_changed(self) -> None:
        if self.model is not None and self.model.conditional:
            self._prompt_timer.start()

    def _prompt_settled(self) -> None:
        self.controller.request("decode", self.panel.z(), self._prompt())
        self.map.refresh()
        self.interpolate.request_strip()

    def _decoded(self, ev: JobEvent) -> None:
        z, image = ev.result.z, ev.result.image
        self.last_z, self.last_image = z, image
        self.decodes_shown += 1
        self.imageDecoded.emit(z, image[None])

    def _end_from_seed(self, name: str, seed: int) -> None:
        self._end_seeds[name] = seed
        self.controller.request("prior", seed, tag=name)

    def _prior_for_seed(self) -> None:
        req = self._base_request()
        if req is not None:
            self.controller.request("prior", req.seed, req.truncation, tag="panel")

    def _prior_ready(self, ev: JobEvent) -> None:
        tag, z = ev.tag, ev.result
        if self.model is None or self.panel.basis is None:  # the model was switched away meanwhile: stale
            return
        if tag == "panel":
            self.panel.set_latent(z)
        elif tag == "follow":
            self.panel.set_latent(z, decode=False)
        else:
            self.interpolate.set_end(tag, z, f"seed {self._end_seeds.get(tag, '?')}")

    def _encoded(self, ev: JobEvent) -> None:
        tag, enc = ev.tag, ev.result
        if self.model is None or self.panel.basis is None:  # the model was switched away meanwhile: stale
            return
        z, image, recon, note = enc.z, enc.image, enc.reconstruction, enc.note
        if tag == "panel":
            self.panel.show_encoded(image, recon, note)
            self.panel.set_latent(z)
        else:
            self.interpolate.set_end(tag, z, "dropped image", image)
        self.message.emit(f"Encoded the image ({note}).", False)

    def _keep(self, z: np.ndarray) -> None:
        req = self._base_request()
        if req is None or self.last_image is None or self.last_z is None:
            self.message.emit("Nothing to keep yet: move a slider first.", True)
            return
        if not np.allclose(self.last_z, z, atol=1e-6):
            self.message.emit("The image is still being decoded; try again in a moment.", True)
            return
        latent = tuple(float(v) for v in z)  # exact float32 values: decoding them again gives these pixels
        self.keep.emit(req.with_(latent=latent, batch_size=1), self.last_image[None])

    def shutdown(self) -> None:
        self.controller.shutdown()
