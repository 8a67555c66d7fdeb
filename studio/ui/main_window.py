"""The main window: dock panels around the live preview, wired to the generation controller."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QWidget

from ..core.catalog import CATALOG, FamilyInfo
from ..core.errors import StudioError
from ..core.prompt.phrases import PhraseStore
from ..core.request import GenerationRequest
from ..store.gallery import GalleryItem, GalleryStore
from ..store.pngmeta import read_settings
from ..workers.generation import GenerationController, JobResult
from ..workers.training import TrainingController
from .blend_panel import BlendPanel
from .controls import ControlsPanel
from .gallery_panel import GalleryPanel
from .latent_explorer import LatentExplorer
from .model_panel import ModelPanel
from .phrase_library import PhraseLibraryPanel
from .preview import PreviewPanel
from .prompt import PromptPanel
from .queue_panel import QueuePanel
from .training_panel import TrainingPanel


class MainWindow(QMainWindow):
    LATENT_DOCKS = ("Latent", "Latent map", "Interpolate")

    def __init__(self, store: GalleryStore, controller: GenerationController, settings: QSettings,
                 latent: LatentExplorer | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Generative Studio")
        self.setObjectName("MainWindow")
        self.store, self.controller, self.settings = store, controller, settings
        self.last_message = ""
        self.last_result: JobResult | None = None
        self._pinned_hash: tuple[str, str] | None = None  # (checkpoint id, hash) of restored settings
        # Redraws of restored settings, kept while their seed is: Generate then reproduces that image.
        self._redraws: tuple[int, tuple] = (-1, ())
        self._latent_sized = False

        self.model_panel = ModelPanel()
        self.prompt_panel = PromptPanel()
        self.controls = ControlsPanel()
        self.preview = PreviewPanel()
        self.gallery = GalleryPanel(store)
        self.queue_panel = QueuePanel(controller)
        self.latent = latent or LatentExplorer(self.prompt_panel.text, self.current_request)
        self.training = TrainingController(self)
        self.training_panel = TrainingPanel()
        self.setDockNestingEnabled(True)
        # Every panel is a dock (movable, closable, remembered); no central widget is needed.
        self.docks: dict[str, QDockWidget] = {}
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self._dock("Model", self.model_panel, left)
        self._dock("Prompt", self.prompt_panel, left)
        self._dock("Controls", self.controls, left)
        self._dock("Preview", self.preview, right)
        self._dock("Gallery", self.gallery, right)
        self.splitDockWidget(self.docks["Preview"], self.docks["Gallery"], Qt.Orientation.Horizontal)
        self._dock("Queue", self.queue_panel, right)
        self.splitDockWidget(self.docks["Gallery"], self.docks["Queue"], Qt.Orientation.Vertical)
        self._dock("Latent", self.latent.panel, left)
        self.splitDockWidget(self.docks["Controls"], self.docks["Latent"], Qt.Orientation.Vertical)
        self._dock("Latent map", self.latent.map, right)
        self.tabifyDockWidget(self.docks["Gallery"], self.docks["Latent map"])
        self._dock("Interpolate", self.latent.interpolate, right)
        self.tabifyDockWidget(self.docks["Queue"], self.docks["Interpolate"])
        self._dock("Training", self.training_panel, right)
        self.tabifyDockWidget(self.docks["Queue"], self.docks["Training"])
        self.blend = BlendPanel()
        self._dock("Blend", self.blend, right)
        self.tabifyDockWidget(self.docks["Queue"], self.docks["Blend"])
        self._sweep: dict | None = None  # job ids of a running prompt sweep, and their images
        self.docks["Queue"].raise_()
        # Phrase library: a tab beside Model; it feeds the prompt's completion and takes its chips.
        self.phrases = PhraseLibraryPanel(PhraseStore.default())
        self._dock("Phrases", self.phrases, left)
        self.tabifyDockWidget(self.docks["Model"], self.docks["Phrases"])
        self.docks["Model"].raise_()
        self.prompt_panel.use_library(self.phrases)
        self.prompt_panel.settingsDropped.connect(self.apply_request)  # a gallery image Shift+dropped on the prompt
        self.status_label = QLabel()
        self.statusBar().addPermanentWidget(self.status_label)
        self.setAcceptDrops(True)
        self._menus()

        QShortcut(QKeySequence("Ctrl+Return"), self, self.generate, context=Qt.ShortcutContext.ApplicationShortcut)
        QShortcut(QKeySequence("Ctrl+Enter"), self, self.generate, context=Qt.ShortcutContext.ApplicationShortcut)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.controller.cancel,
                  context=Qt.ShortcutContext.ApplicationShortcut)

        self.model_panel.familyChanged.connect(self._family_changed)
        self.model_panel.checkpointChanged.connect(self._checkpoint_changed)
        lx = self.latent
        lx.imageDecoded.connect(self._show_decoded)
        lx.message.connect(lambda text, error: self.notify(text, error=error))
        lx.keep.connect(self._keep)
        lx.modelLoaded.connect(self._latent_model_loaded)
        self.prompt_panel.prompt.textChanged.connect(lx.prompt_changed)
        tp, tc = self.training_panel, self.training
        tp.startRequested.connect(self._start_training)
        tp.stopRequested.connect(tc.stop)
        tc.event.connect(tp.show_event)
        tc.busyChanged.connect(tp.set_busy)
        tc.finished.connect(self._trained)
        tc.failed.connect(lambda msg: (tp.status.setText(msg), self.notify(msg, error=True)))
        self.controls.generateClicked.connect(self.generate)
        self.controls.cancelClicked.connect(self.controller.cancel)
        self.preview.noisyToggled.connect(lambda on: setattr(self.controller, "want_noisy", on))
        self.preview.pixelClicked.connect(self.redraw_after)
        self.preview.imageDropped.connect(self.set_input_image)
        self.blend.usePrompt.connect(lambda text: self.prompt_panel.set_text(text, self.prompt_panel.negative_text()))
        self.blend.generateWanted.connect(lambda text: self.submit_prompts([text]))
        self.blend.sweepWanted.connect(self.sweep)
        self.gallery.useSettings.connect(self.use_item_settings)
        self.queue_panel.editRequested.connect(self.apply_request)
        c = controller
        c.jobStarted.connect(lambda _id, req: self.preview.start(
            req.steps if "steps" in CATALOG.get(req.family, CATALOG["diffusion"]).controls else 0))
        c.frameReady.connect(lambda _id, frame, rate: self.preview.show_frame(frame, rate))
        c.jobFinished.connect(self._finished)
        c.jobCancelled.connect(lambda _id: self.preview.stopped("cancelled"))
        c.jobFailed.connect(self._failed)
        c.busyChanged.connect(self.controls.set_busy)
        c.status.connect(self.status_label.setText)

        self.model_panel.rescan()
        self._restore_settings()
        if store.warning:
            self.notify(store.warning, error=True)
        if controller.queue.warning:
            self.notify(controller.queue.warning, error=True)

    # --- layout ---------------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[title] = dock
        return dock

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_png = QAction("Load settings from PNG…", self)
        open_png.triggered.connect(self._ask_load_png)
        file_menu.addAction(open_png)
        export = QAction("Export last run as GIF…", self)
        export.triggered.connect(self.preview.ask_export_gif)
        file_menu.addAction(export)
        file_menu.addSeparator()
        quit_action = QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())

    # --- actions --------------------------------------------------------------------------------
    def current_request(self) -> GenerationRequest | None:
        ck = self.model_panel.current()
        if ck is None:
            return None
        pinned = self._pinned_hash[1] if self._pinned_hash and self._pinned_hash[0] == ck.id else ""
        base = GenerationRequest(family=ck.family, checkpoint=ck.id, checkpoint_hash=pinned,
                                 prompt=self.prompt_panel.text(), negative_prompt=self.prompt_panel.negative_text())
        req = self.controls.fill(base)
        seed, redraws = self._redraws
        return req.with_(redraws=redraws) if redraws and req.seed == seed and req.family == "autoregressive" else req

    def generate(self) -> str | None:
        if self.model_panel.current() is None:
            self.notify("No checkpoint is selected: pick one in the Model panel.", error=True)
            return None
        self.controls.next_seed()
        req = self.current_request()
        try:
            job_id = self.controller.submit(req)
        except StudioError as e:
            self.notify(str(e), error=True)
            return None
        if self.prompt_panel.isEnabled():  # a prompt the model reads: its phrases become recent ones
            self.phrases.record_prompt(req.prompt)
        return job_id

    def set_input_image(self, path: str) -> bool:
        """Image-to-image: the dropped file (or gallery item) becomes the input of the next Generate."""
        from ..core.images import load_for_model
        from ..store.inputs import store_input

        ck, info = self.model_panel.current(), self.model_panel.family_info()
        if not info.img2img:
            self.notify(info.no_img2img, error=True)
            return False
        if ck is None:
            self.notify("No checkpoint is selected: pick one in the Model panel.", error=True)
            return False
        size, channels = ck.image_format
        try:
            image, note = load_for_model(path, size, channels)
            h = store_input(image)
        except StudioError as e:
            self.notify(str(e), error=True)
            return False
        self.controls.set_init_image(h, image)
        self.notify(f"Input image {Path(path).name} ({note}): Generate now starts from it at strength "
                    f"{self.controls.strength.value():g}.")
        return True

    def submit_prompts(self, prompts: list[str]) -> list[str]:
        """Generate each prompt with the current settings and the current seed (not a new one)."""
        base = self.current_request()
        if base is None:
            self.notify("No checkpoint is selected: pick one in the Model panel.", error=True)
            return []
        try:
            return [self.controller.submit(base.with_(prompt=p)) for p in prompts]
        except StudioError as e:
            self.notify(str(e), error=True)
            return []

    def sweep(self, prompts: list[str]) -> None:
        """Blend sweep: one image per mix, all with the same seed, collected for the GIF in order."""
        ids = self.submit_prompts(prompts)
        if ids:
            self._sweep = {"ids": ids, "images": {}}
            self.blend.sweep_started(len(ids))

    def _collect_sweep(self, job_id: str, result: JobResult) -> None:
        sw = self._sweep
        if sw is None or job_id not in sw["ids"]:
            return
        sw["images"][job_id] = result.images
        self.blend.sweep_progress(len(sw["images"]), len(sw["ids"]))
        if len(sw["images"]) == len(sw["ids"]):
            images = [sw["images"][i] for i in sw["ids"]]
            self._sweep = None
            self.blend.sweep_finished(images)
            self.preview.finish(images)  # Export GIF in the preview plays the sweep too

    def redraw_after(self, index: int, row: int, col: int) -> str | None:
        """Autoregressive: draw the last result again from the clicked pixel on, with a new seed for
        that part; everything before it stays as it is."""
        result = self.last_result
        if result is None or result.request.family != "autoregressive" or self.controller.busy:
            return None
        req = result.request
        seed = random.randint(0, 2**31 - 1)
        self.notify(f"Redrawing everything after pixel ({col}, {row}) of image {index + 1} with seed {seed}.")
        try:
            return self.controller.submit(req.redrawn_from(row * req.width + col, seed))
        except StudioError as e:
            self.notify(str(e), error=True)
            return None

    def apply_request(self, req: GenerationRequest) -> None:
        """Put saved settings back into the panels; the seed is locked so Generate reproduces them."""
        if not self.model_panel.select(req.family, req.checkpoint):
            self.notify(f"The checkpoint {req.checkpoint!r} ({req.family}) is not installed; "
                        "the other settings were restored.", error=True)
        self.prompt_panel.set_text(req.prompt, req.negative_prompt)
        self.controls.apply(req)
        self.controls.seed_lock.setChecked(True)
        if req.latent:
            self.latent.set_latent(np.asarray(req.latent, np.float32))
        self._redraws = (req.seed, req.redraws)
        self._pinned_hash = (req.checkpoint, req.checkpoint_hash) if req.checkpoint_hash else None

    def use_item_settings(self, item: GalleryItem) -> None:
        self.apply_request(item.request)
        self.notify(f"Settings restored from gallery item {item.id}.")

    def load_png(self, path: str | Path) -> bool:
        try:
            req, index = read_settings(Path(path))
        except StudioError as e:
            self.notify(str(e), error=True)
            return False
        self.apply_request(req)
        note = f" (image {index + 1} of a batch of {req.batch_size})" if req.batch_size > 1 else ""
        self.notify(f"Settings restored from {Path(path).name}{note}.")
        return True

    def notify(self, message: str, error: bool = False) -> None:
        self.last_message = message
        self.statusBar().setStyleSheet("color: #e66;" if error else "")
        self.statusBar().showMessage(message, 15000)

    def _ask_load_png(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load settings from a generated PNG", "", "Images (*.png *.jpg)")
        if path:
            self.load_png(path)

    # --- controller events ----------------------------------------------------------------------------
    def _family_changed(self, info: FamilyInfo) -> None:
        self.controls.set_family(info)
        self.preview.show_noisy.setVisible("steps" in info.controls)  # x_t exists only while denoising
        self.prompt_panel.setEnabled("prompt" in info.controls)
        has_latent = "latent" in info.controls
        for title in self.LATENT_DOCKS:
            self.docks[title].setVisible(has_latent)
        if has_latent:
            self.docks["Latent map"].raise_()
            if not self._latent_sized:  # a hidden dock can't be sized: do it when it first shows
                self._latent_sized = True
                left = [self.docks[t] for t in ("Model", "Prompt", "Controls", "Latent")]
                QTimer.singleShot(0, lambda: self.resizeDocks(left, [200, 110, 90, 520], Qt.Orientation.Vertical))

    def _checkpoint_changed(self, ck) -> None:
        has_latent = ck is not None and "latent" in CATALOG[ck.family].controls
        self.latent.load(ck.id if has_latent else None)

    def _start_training(self, family: str, dataset: str, out: str, steps: int, options: dict, train: dict) -> None:
        try:
            self.training.start(family, dataset, out, steps, options, train)
        except StudioError as e:
            self.notify(str(e), error=True)
            return
        self.notify(f"Training a {family} on {dataset} for {steps} steps into {out}.")

    def _trained(self, path: str) -> None:
        current = self.model_panel.current()
        self.model_panel.rescan()
        if current is not None:
            self.model_panel.select(current.family, current.id)
        self.notify(f"Trained {Path(path).stem}; it is listed in the Model panel.")

    def _latent_model_loaded(self, model) -> None:
        """An unconditional model ignores prompts: say so instead of leaving a box that does nothing."""
        self.prompt_panel.setEnabled(bool(model.conditional))
        self.prompt_panel.setToolTip("" if model.conditional else
                                     f"{model.checkpoint.id} is unconditional: it does not read prompts.")

    def _show_decoded(self, z, images: np.ndarray) -> None:
        self.preview.show_images(images)
        self.preview.step_label.setText("decoded from the latent panel" if z is not None else "interpolation")
        self.preview.speed_label.setText("")

    def _keep(self, request: GenerationRequest, images: np.ndarray) -> None:
        item = self.store.add(images[0], request, 0)
        self.gallery.refresh()
        self.notify(f"Kept as gallery item {item.id}, with its latent vector.")

    def _finished(self, job_id: str, result: JobResult) -> None:
        self.last_result = result
        req = result.request
        if not req.latent and req.family in CATALOG and "latent" in CATALOG[req.family].controls:
            self.latent.follow_seed(req.seed, req.truncation)  # the sliders show the first image's vector
        elif req.latent:
            self.latent.set_latent(np.asarray(req.latent, np.float32))
        self.preview.finish(result.frames)
        self._collect_sweep(job_id, result)
        self.preview.set_clickable("Click a pixel to draw everything after it again (a new seed from there on)"
                                   if req.family == "autoregressive" else "")
        for i, image in enumerate(result.images):
            self.store.add(image, result.request, i)
        self.gallery.refresh()

    def _failed(self, _job_id: str, message: str) -> None:
        self.preview.stopped("failed")
        self.notify(message, error=True)

    # --- drag and drop --------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not files:
            self.notify("Only files can be dropped here: drop a PNG made by the studio.", error=True)
            return
        event.acceptProposedAction()
        self.load_png(files[0])

    # --- persistence ----------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        if s.value("state"):
            self.restoreState(s.value("state"))
        raw = s.value("last_request")
        if raw:
            try:
                req = GenerationRequest.from_dict(json.loads(raw))
                self.model_panel.select(req.family, req.checkpoint)
                self.prompt_panel.set_text(req.prompt, req.negative_prompt)
                self.controls.apply(req)
            except (StudioError, ValueError, TypeError):
                pass  # stale settings from an older version: keep the defaults
        self._family_changed(self.model_panel.family_info())  # a restored layout must not show stale docks
        # Size the window last, once the family's controls are laid out: before, every control row is
        # visible and their height would push the window past the screen.
        self.layout().activate()  # the minimum size the hidden rows and docks leave, not the stale one
        if s.value("geometry"):
            self.restoreGeometry(s.value("geometry"))
        else:
            screen = self.screen().availableGeometry()
            self.resize(min(1360, screen.width()), min(860, screen.height()))
            self.resizeDocks([self.docks["Model"], self.docks["Preview"], self.docks["Gallery"]], [300, 640, 420],
                             Qt.Orientation.Horizontal)
            self.resizeDocks([self.docks["Gallery"], self.docks["Queue"]], [600, 240], Qt.Orientation.Vertical)
        self.controls.seed_lock.setChecked(s.value("seed_locked", False, type=bool))
        self.preview.show_noisy.setChecked(s.value("show_noisy", False, type=bool))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("state", self.saveState())
        req = self.current_request()
        if req is not None:
            s.setValue("last_request", req.to_json())
        s.setValue("seed_locked", self.controls.seed_lock.isChecked())
        s.setValue("show_noisy", self.preview.show_noisy.isChecked())
        s.sync()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.save_settings()
        self.controller.cancel()
        self.latent.shutdown()
        self.training.stop()
        self.training.wait()
        super().closeEvent(event)
