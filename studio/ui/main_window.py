"""The main window: dock panels around the live preview. It presents; what to do with a click, a drop or a
finished job is decided by the session (studio.workers.session), and every background job reports
through the one JobEvent type."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QWidget

from ..core.catalog import CATALOG, FamilyInfo
from ..core.errors import StudioError
from ..core.events import JobEvent
from ..core.request import GenerationRequest
from ..store.gallery import GalleryItem
from ..store.phrases import PhraseStore
from ..store.pngmeta import read_settings
from ..workers.generation import JobResult
from ..workers.session import InputImage, StudioSession
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

    def __init__(self, session: StudioSession, settings: QSettings, latent: LatentExplorer | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Generative Studio")
        self.setObjectName("MainWindow")
        self.session, self.settings = session, settings
        self.store, self.controller = session.store, session.generation
        self.last_message = ""
        self._latent_sized = False
        self._shown_job: str | None = None  # the generation job the preview shows

        self.model_panel = ModelPanel()
        self.prompt_panel = PromptPanel()
        self.controls = ControlsPanel()
        self.preview = PreviewPanel()
        self.gallery = GalleryPanel(self.store)
        self.queue_panel = QueuePanel(self.controller)
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
        tc.event.connect(self._on_training)
        tc.busyChanged.connect(tp.set_busy)
        self.controls.generateClicked.connect(self.generate)
        self.controls.cancelClicked.connect(self.controller.cancel)
        self.controls.initCleared.connect(session.clear_input)
        self.preview.noisyToggled.connect(self._want_noisy)
        self.preview.pixelClicked.connect(self.redraw_after)
        self.preview.imageDropped.connect(self.set_input_image)
        self.blend.usePrompt.connect(lambda text: self.prompt_panel.set_text(text, self.prompt_panel.negative_text()))
        self.blend.generateWanted.connect(lambda text: self.submit_prompts([text]))
        self.blend.sweepWanted.connect(self.sweep)
        self.gallery.useSettings.connect(self.use_item_settings)
        self.queue_panel.editRequested.connect(self.apply_request)
        session.message.connect(lambda text, error: self.notify(text, error=error))
        session.inputChanged.connect(self._input_changed)
        session.saved.connect(lambda _items: self.gallery.refresh())
        session.sweepProgress.connect(self.blend.sweep_progress)
        session.sweepFinished.connect(self._sweep_finished)
        self.controller.event.connect(self._on_job)
        self.controller.busyChanged.connect(self.controls.set_busy)

        self.model_panel.rescan()
        self._restore_settings()
        if self.store.warning:
            self.notify(self.store.warning, error=True)
        if self.controller.queue.warning:
            self.notify(self.controller.queue.warning, error=True)

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
        """What Generate would run now: the panels' settings, completed by the session."""
        ck = self.model_panel.current()
        if ck is None:
            return None
        base = GenerationRequest(family=ck.family, checkpoint=ck.id, prompt=self.prompt_panel.text(),
                                 negative_prompt=self.prompt_panel.negative_text())
        return self.session.complete(self.controls.fill(base))

    def generate(self) -> str | None:
        if self.model_panel.current() is not None:
            self.controls.next_seed()
        req = self.current_request()
        job_id = self.session.submit(req)
        if job_id is not None and self.prompt_panel.isEnabled():  # a prompt the model reads: its phrases recur
            self.phrases.record_prompt(req.prompt)
        return job_id

    def set_input_image(self, path: str) -> bool:
        """Image-to-image: the dropped file (or gallery item) becomes the input of the next Generate,
        once the session has fitted it to the model (off the GUI thread)."""
        ck = self.model_panel.current()
        return self.session.set_input_image(path, ck.id if ck else None, self.model_panel.family_info())

    def submit_prompts(self, prompts: list[str]) -> list[str]:
        """Generate each prompt with the current settings and the current seed (not a new one)."""
        return self.session.submit_prompts(self.current_request(), prompts)

    def sweep(self, prompts: list[str]) -> None:
        """Blend sweep: one image per mix, all with the same seed, collected for the GIF in order."""
        ids = self.session.sweep(self.current_request(), prompts)
        if ids:
            self.blend.sweep_started(len(ids))

    def redraw_after(self, index: int, row: int, col: int) -> str | None:
        """A click on the last result: draw everything after that pixel again (families that can)."""
        return self.session.redraw_after(index, row, col)

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
        self.session.restore(req)

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

    # --- what the panels and workers report -------------------------------------------------------------
    def _family_changed(self, info: FamilyInfo) -> None:
        self.controls.set_family(info)
        self.preview.show_noisy.setVisible("steps" in info.controls)  # x_t exists only while denoising
        self.prompt_panel.setEnabled("prompt" in info.controls)
        has_latent = info.can("decode")
        for title in self.LATENT_DOCKS:
            self.docks[title].setVisible(has_latent)
        if has_latent:
            self.docks["Latent map"].raise_()
            if not self._latent_sized:  # a hidden dock can't be sized: do it when it first shows
                self._latent_sized = True
                left = [self.docks[t] for t in ("Model", "Prompt", "Controls", "Latent")]
                QTimer.singleShot(0, lambda: self.resizeDocks(left, [200, 110, 90, 520], Qt.Orientation.Vertical))

    def _checkpoint_changed(self, ck) -> None:
        self.latent.load(ck.id if ck is not None and self.model_panel.family_info().can("decode") else None)

    def _want_noisy(self, on: bool) -> None:
        self.controller.want_noisy = on

    def _on_job(self, ev: JobEvent) -> None:
        """A generation job's events, presented: the preview follows the job it shows."""
        if ev.message and ev.kind not in ("error", "queued"):
            self.status_label.setText(ev.message)
        if ev.kind == "loading":
            self._shown_job = ev.job
            self.preview.start(0, status="loading…")
        elif ev.kind == "started":
            self._shown_job = ev.job
            req: GenerationRequest = ev.result
            info = CATALOG.get(req.family)
            unit = info.unit if info is not None else ""
            # Denoising counts its steps up front; other units are learnt from the first frame.
            self.preview.start(req.steps if unit == "step" else 0, unit or "step", "")
        elif ev.kind in ("note", "queued") and ev.message:
            self.notify(ev.message)
        elif ev.kind == "frame" and ev.job == self._shown_job:
            self.preview.show_frame(ev.frame, ev.rate)
        elif ev.kind == "result":
            self._finished(ev.result)
        elif ev.kind == "cancelled" and ev.job == self._shown_job:
            self.preview.stopped("cancelled")
            self.status_label.setText("Cancelled.")
        elif ev.kind == "error":
            if ev.job == self._shown_job:
                self.preview.stopped("failed")
                self.status_label.setText(ev.message)
            self.notify(ev.message, error=True)

    def _finished(self, result: JobResult) -> None:
        req = result.request
        info = CATALOG.get(req.family)
        if req.latent:
            self.latent.set_latent(np.asarray(req.latent, np.float32))
        elif info is not None and info.can("decode"):
            self.latent.follow_seed(req.seed, req.truncation)  # the sliders show the first image's vector
        self.preview.finish(result.frames)
        self.preview.set_clickable(self.session.redraw_hint())

    def _sweep_finished(self, images: list[np.ndarray]) -> None:
        self.blend.sweep_finished(images)
        self.preview.finish(images)  # Export GIF in the preview plays the sweep too

    def _input_changed(self, value: InputImage | None) -> None:
        self.controls.set_init_image(value.hash if value else "", value.image if value else None)
        if value is not None and value.name:
            self.notify(f"Input image {value.name} ({value.note}): Generate now starts from it at strength "
                        f"{self.controls.strength.value():g}.")

    def _start_training(self, family: str, dataset: str, out: str, steps: int, options: dict, train: dict) -> None:
        try:
            self.training.start(family, dataset, out, steps, options, train)
        except StudioError as e:
            self.notify(str(e), error=True)
            return
        self.notify(f"Training a {family} on {dataset} for {steps} steps into {out}.")

    def _on_training(self, ev: JobEvent) -> None:
        if ev.kind == "progress":
            self.training_panel.show_event(ev.result)
        elif ev.kind == "result":
            self._trained(ev.result)
        elif ev.kind in ("error", "cancelled") and ev.message:
            self.training_panel.status.setText(ev.message)
            self.notify(ev.message, error=True)

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
        self.session.keep(request, images, "Kept as gallery item {ids}, with its latent vector.")

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
                self.session.show_input(req.init_image)  # the last input image, read off the GUI thread
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
        self.session.shutdown()  # stops generating; the gallery writes asked for are finished first
        self.latent.shutdown()
        self.training.stop()
        self.training.wait()  # a stopped run saves its resumable state
        self.training.shutdown()
        super().closeEvent(event)
