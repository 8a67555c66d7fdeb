"""The main window: dock panels around the live preview. It presents; what to do with a click, a drop or a
finished job is decided by the session (studio.workers.session), and every background job reports
through the one JobEvent type."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRect, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox

from ..core.catalog import CATALOG, FamilyInfo
from ..core.errors import StudioError
from ..core.events import JobEvent
from ..core.request import GenerationRequest
from ..store.gallery import GalleryItem
from ..store.paths import input_path
from ..store.phrases import PhraseStore
from ..store.pngmeta import read_settings
from ..workers.generation import JobResult
from ..workers.session import InputImage, StudioSession
from ..workers.training import TrainingController
from .blend_panel import BlendPanel
from .compare_panel import ComparePanel
from .controls import ControlsPanel
from .gallery_panel import GalleryPanel
from .latent_explorer import LatentExplorer
from .model_panel import ModelPanel
from .phrase_library import PhraseLibraryPanel
from .preview import PreviewPanel
from .prompt import PromptPanel
from .queue_panel import QueuePanel
from .training_panel import TrainingPanel
from .window_layout import WindowLayout, make_dock, saved_geometry

ERROR_STYLE = "QStatusBar { color: #e66; }"  # the bar's own message only: its labels keep their colour


def empty_text(info: FamilyInfo) -> str:
    """What the preview says before a family's first image."""
    if info.can("decode"):
        return f"{info.label}: press Generate (Ctrl+Enter), or move the Latent sliders"
    if "prompt" in info.controls:
        return f"{info.label}: type a prompt and press Generate (Ctrl+Enter)"
    return f"{info.label}: press Generate (Ctrl+Enter)"


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
        self._screen_watched = False
        self._family: str | None = None  # the family the panels show
        self._input_source = ""  # the file the image-to-image input was read from
        self._refitting: tuple[str, str, str] | None = None  # input hash, file name, checkpoint: being fitted
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
        self.blend = BlendPanel()
        self.phrases = PhraseLibraryPanel(PhraseStore.default())  # feeds the prompt's completion, takes its chips
        self.compare = ComparePanel(activate_on_show=False)  # the families side by side; loads when its tab is chosen
        self.setDockNestingEnabled(True)
        # Every panel is a dock (movable, closable, remembered); no central widget is needed.
        self.docks: dict[str, QDockWidget] = {
            title: make_dock(self, title, widget) for title, widget in (
                ("Model", self.model_panel), ("Prompt", self.prompt_panel), ("Controls", self.controls),
                ("Preview", self.preview), ("Gallery", self.gallery), ("Queue", self.queue_panel),
                ("Latent", self.latent.panel), ("Latent map", self.latent.map),
                ("Interpolate", self.latent.interpolate), ("Training", self.training_panel), ("Blend", self.blend),
                ("Phrases", self.phrases), ("Compare", self.compare))}
        self.arrangement = WindowLayout(self, self.docks, self.screen_rect)
        self.arrangement.place()
        self.prompt_panel.use_library(self.phrases)
        self.prompt_panel.settingsDropped.connect(self.apply_request)  # a gallery image Shift+dropped on the prompt
        self.status_label = QLabel()  # the running job's status, beside the messages
        self.status_label.setMinimumWidth(1)  # a long status is cut, never widens the window
        self.statusBar().addPermanentWidget(self.status_label)
        self._error_shown: str | None = None  # the error message the status bar shows in red
        self.statusBar().messageChanged.connect(self._message_changed)
        self.setAcceptDrops(True)
        self.grid_dialog = None  # the X/Y/Z grid window, made on first use
        self._menus()

        QShortcut(QKeySequence("Ctrl+Return"), self, self.generate, context=Qt.ShortcutContext.ApplicationShortcut)
        QShortcut(QKeySequence("Ctrl+Enter"), self, self.generate, context=Qt.ShortcutContext.ApplicationShortcut)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.controller.cancel,
                  context=Qt.ShortcutContext.ApplicationShortcut)

        self.model_panel.familyChanged.connect(self._family_changed)
        self.model_panel.checkpointChanged.connect(self._checkpoint_changed)
        self.model_panel.addFailed.connect(lambda why: self.notify(why, error=True))
        self.model_panel.modelAdded.connect(lambda info: self.notify(f"Added {info.id}: it is listed under "
                                                                     f"{CATALOG[info.family].label}."))
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
        stepping, bar = self.controller.stepping, self.preview.debug
        bar.pauseToggled.connect(lambda on: stepping.pause() if on else stepping.resume())
        bar.stepClicked.connect(stepping.step)
        bar.rewindTo.connect(stepping.rewind)
        bar.applyClicked.connect(self.apply_mid_run)
        self.controls.initCleared.connect(session.clear_input)
        self.preview.noisyToggled.connect(self._want_noisy)
        self.preview.mode_box.changed.connect(self._preview_mode)
        self.preview.pixelClicked.connect(self.redraw_after)
        self.preview.imageDropped.connect(self._dropped_on_preview)
        self.preview.player.message.connect(lambda text, error: self.notify(text, error=error))
        self.gallery.message.connect(lambda text, error: self.notify(text, error=error))
        self.blend.usePrompt.connect(lambda text: self.prompt_panel.set_text(text, self.prompt_panel.negative_text()))
        self.blend.generateWanted.connect(lambda text: self.submit_prompts([text]))
        self.blend.sweepWanted.connect(self.sweep)
        self.gallery.useSettings.connect(self.use_item_settings)
        self.queue_panel.editRequested.connect(
            lambda job_id, req: self.apply_request(req) and self.queue_panel.take(job_id))
        session.message.connect(lambda text, error: self.notify(text, error=error))
        session.inputChanged.connect(self._input_changed)
        session.saved.connect(self.gallery.add_items)  # one thumbnail per new image, not all again
        session.sweepProgress.connect(self.blend.sweep_progress)
        session.sweepFinished.connect(self._sweep_finished)
        self.controller.event.connect(self._on_job)
        self.compare.message.connect(lambda text, error: self.notify(text, error=error))
        self.docks["Compare"].visibilityChanged.connect(lambda shown: shown and self.compare.activate())
        self.controller.busyChanged.connect(self.controls.set_busy)
        self.controller.busyChanged.connect(self.preview.debug.set_running)

        self.model_panel.rescan()
        self._restore_settings()
        self.startup_notice: QMessageBox | None = None
        self._startup_problems()

    def _startup_problems(self) -> None:
        """What opening the gallery and the queue ran into (an index rebuilt, files skipped or set
        aside): said in the status bar, and listed in full in a notice that does not block the window."""
        queue = self.controller.queue.warning
        problems = [*self.store.problems, *([queue] if queue else [])]
        if not problems:
            return
        self.notify(" ".join(problems), error=True)
        box = QMessageBox(QMessageBox.Icon.Warning, "Generative Studio", "Opening your gallery and queue found:",
                          QMessageBox.StandardButton.Ok, self)
        box.setInformativeText("\n\n".join(problems))
        box.setWindowModality(Qt.WindowModality.NonModal)
        self.startup_notice = box
        QTimer.singleShot(0, box.show)  # once the window is up

    # --- layout ---------------------------------------------------------------------------------
    def screen_rect(self) -> QRect:
        """The part of the screen the window may use: its screen's available geometry."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry()

    def reset_layout(self) -> None:
        """View → Reset layout: the default arrangement and size, fitted to the screen."""
        self.arrangement.reset()
        self._latent_sized = False
        self._family_changed(self.model_panel.family_info())
        self.arrangement.default_size()
        self.arrangement.fit()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        handle = self.windowHandle()
        if handle is not None and not self._screen_watched:  # moved to another screen: fit that one
            handle.screenChanged.connect(lambda _screen: self.arrangement.fit())
            self._screen_watched = True
        self.arrangement.fit()  # the frame's size is known once shown

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_png = QAction("Load settings from PNG, GIF or MP4…", self)
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
        view.addSeparator()
        reset = QAction("Reset layout", self)
        reset.setToolTip("Put every panel back in its place, sized to fit the screen")
        reset.triggered.connect(self.reset_layout)
        view.addAction(reset)
        self.reset_layout_action = reset
        tools = self.menuBar().addMenu("&Tools")
        grid = QAction("X/Y/Z grid…", self, shortcut=QKeySequence("Ctrl+G"))
        grid.setToolTip("Vary the current settings along up to three axes and see every cell side by side")
        grid.triggered.connect(self.open_grid)
        tools.addAction(grid)
        self.tools_menu, self.grid_action = tools, grid

    # --- actions --------------------------------------------------------------------------------
    def current_request(self) -> GenerationRequest | None:
        """What Generate would run now: the panels' settings, completed by the session."""
        ck = self.model_panel.current()
        if ck is None:
            return None
        base = GenerationRequest(family=ck.family, checkpoint=ck.id, prompt=self.prompt_panel.text(),
                                 negative_prompt=self.prompt_panel.negative_text())
        return self.session.complete(self.controls.fill(base))

    def open_grid(self) -> None:
        """The X/Y/Z grid window, starting from what Generate would run now."""
        from .grid_dialog import GridDialog

        if self.grid_dialog is None:
            self.grid_dialog = GridDialog(self.current_request(), self.session, self)
            self.grid_dialog.sheetSaved.connect(lambda path: self.notify(f"Saved the grid sheet {path}."))
        else:
            self.grid_dialog.set_base(self.current_request())
        self.grid_dialog.show()
        self.grid_dialog.raise_()

    def apply_mid_run(self) -> None:
        """The step debugger's "Apply from here": the prompt boxes, guidance and sampler as they are now hold
        for the rest of the paused run (what the family does not read is dropped with its setting)."""
        self.controller.stepping.edit({"prompt": self.prompt_panel.text(),
                                       "negative_prompt": self.prompt_panel.negative_text(),
                                       "guidance": self.controls.guidance.value(),
                                       "sampler": self.controls.sampler.currentText()})

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
        self._input_source = path  # fitted again from this file when another checkpoint is chosen
        info = self.model_panel.family_info()
        return self.session.set_input_image(path, ck.id if ck else None, info, self._asked_size(info))

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

    def apply_request(self, req: GenerationRequest) -> bool:
        """Put saved settings back into the panels; the seed is locked so Generate reproduces them.
        Settings the panels could not hold exactly (out of range, NaN, too many decimals) are refused
        with a message and change nothing: False."""
        try:
            self.controls.check(req)
        except StudioError as e:
            self.notify(f"These settings were not restored: {e}", error=True)
            return False
        if not self.model_panel.select(req.family, req.checkpoint):
            self.notify(f"The checkpoint {req.checkpoint!r} ({req.family}) is not installed; "
                        "the other settings were restored.", error=True)
        self.prompt_panel.set_text(req.prompt, req.negative_prompt)
        self.controls.apply(req)
        self.controls.seed_lock.setChecked(True)
        if req.latent:
            self.latent.set_latent(np.asarray(req.latent, np.float32))
        self.session.restore(req)
        return True

    def use_item_settings(self, item: GalleryItem) -> None:
        if self.apply_request(item.request):
            self.notify(f"Settings restored from gallery item {item.id}.")

    def load_png(self, path: str | Path) -> bool:
        """Restore the settings a studio file carries: a PNG (its text chunks), or a GIF or MP4 clip
        (studio.store.video_files); a message says what was restored, or why nothing was."""
        from ..store.video_files import VIDEO_SUFFIXES, read_video_settings  # a clip file's settings

        path = Path(path)
        read = read_video_settings if path.suffix.lower() in VIDEO_SUFFIXES else read_settings
        try:
            req, index = read(path)
        except StudioError as e:
            self.notify(str(e), error=True)
            return False
        if not self.apply_request(req):
            return False
        note = f" (image {index + 1} of a batch of {req.batch_size})" if req.batch_size > 1 else ""
        self.notify(f"Settings restored from {Path(path).name}{note}.")
        return True

    def notify(self, message: str, error: bool = False) -> None:
        """Show ``message`` in the status bar, red if it is an error: only that message is red (not
        the job status beside it), and only while it shows."""
        self.last_message = message
        self._error_shown = message if error else None
        bar = self.statusBar()
        bar.setStyleSheet(ERROR_STYLE if error else "")
        bar.showMessage(message, 15000)

    def _message_changed(self, text: str) -> None:
        if text != self._error_shown:  # the error expired or another message (a menu's tip) replaced it
            self._error_shown = None
            self.statusBar().setStyleSheet("")

    def _ask_load_png(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load settings from a generated PNG, GIF or MP4", "",
                                              "Studio files (*.png *.jpg *.gif *.mp4)")
        if path:
            self.load_png(path)

    def _dropped_on_preview(self, path: str) -> None:
        """A file dropped on the preview: a clip (GIF, MP4) restores its settings, as on the window; a
        still image is the image-to-image input (for a family that makes clips, the clip's first frame)."""
        from ..store.video_files import VIDEO_SUFFIXES

        if Path(path).suffix.lower() in VIDEO_SUFFIXES:
            self.load_png(path)
        else:
            self.set_input_image(path)

    # --- what the panels and workers report -------------------------------------------------------------
    def _family_changed(self, info: FamilyInfo) -> None:
        self.controls.set_family(info)
        self.preview.debug.setVisible(bool(info.unit))  # a single decode has no steps to pause between
        self.preview.set_makes_clips(info.can("video"))
        self.preview.mode_box.set_modes(info.preview_modes)
        self.preview.show_noisy.setVisible("steps" in info.controls)  # x_t exists only while denoising
        self.prompt_panel.setEnabled("prompt" in info.controls)
        has_latent = info.can("decode")
        for title in self.LATENT_DOCKS:
            self.docks[title].setVisible(has_latent)
        if has_latent:
            self.docks["Latent map"].raise_()
            if not self._latent_sized:  # a hidden dock can't be sized: do it when it first shows
                self._latent_sized = True
                self.arrangement.arrange_latent()
        if info.name != self._family:  # the last family's image (and its clicks) mean nothing here
            self._family = info.name
            self._clear_preview(info)
            if not has_latent and self.docks["Model"] in self.tabifiedDockWidgets(self.docks["Latent"]):
                self.docks["Model"].raise_()  # not the next tab along, where the Latent tab was

    def _clear_preview(self, info: FamilyInfo) -> None:
        self._shown_job = None  # a job of the last family still running no longer paints here
        self.preview.stopped("idle")
        self.preview.canvas.clear(empty_text(info))
        self.preview.noisy_canvas.clear()
        self.preview.finish([])
        self.preview.clear_clips()
        self.preview.set_clickable("")

    def _checkpoint_changed(self, ck) -> None:
        self.latent.load(ck.id if ck is not None and self.model_panel.family_info().can("decode") else None)
        if ck is not None and "width" in ck.config and "size" in self.model_panel.family_info().controls:
            self.controls.set_size(int(ck.config["width"]), int(ck.config["height"]))  # the model's native size
        if self.session.input is not None:  # after the switch has settled (restored settings bring their own)
            h = self.session.input.hash
            QTimer.singleShot(0, lambda: self._refit_input(h))

    def _asked_size(self, info: FamilyInfo) -> tuple[int, int] | None:
        """The width and height the Controls ask for, for a family whose models draw at any size."""
        if "size" not in info.controls:
            return None
        return self.controls.image_width.value(), self.controls.image_height.value()

    def _refit_input(self, h: str) -> None:
        """Another checkpoint: fit the image-to-image input to it now, from the dropped file if it is
        still there (else from the stored pixels), rather than fail at Generate."""
        ck, info, value = self.model_panel.current(), self.model_panel.family_info(), self.session.input
        if ck is None or not info.can("img2img") or value is None or value.hash != h:
            return  # kept for a family that starts from images; or a newer input came meanwhile
        source = self._input_source
        if not (source and value.name == Path(source).name and Path(source).is_file()):
            source = str(input_path(h))
        if Path(source).is_file():
            self._refitting = (h, Path(source).name, ck.title)
            self.session.set_input_image(source, ck.id, info, self._asked_size(info))

    def _want_noisy(self, on: bool) -> None:
        self.controller.want_noisy = on

    def _preview_mode(self, mode: str, every: int) -> None:
        self.controller.preview_mode = (mode, every)  # the runs started from now on

    def _on_job(self, ev: JobEvent) -> None:
        """A generation job's events, presented: the preview follows the job it shows."""
        if ev.message and ev.kind not in ("error", "queued"):
            self.status_label.setText(ev.message)
        if ev.kind == "loading":
            # A job that waits for the model, or a warm-up while no run is on screen (not one between the
            # steps of the run shown): the canvas says what loads.
            running = self.controller.current
            if ev.job == running or running is None or self._shown_job != running:
                self._shown_job = ev.job
                self.preview.loading(ev.message, for_run=ev.job == running)
        elif ev.kind == "loaded":  # a warm-up is over
            if ev.job == self._shown_job:
                self.preview.loaded(waiting=self.controller.busy)
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
            self.preview.debug.show_step(ev.step, ev.total)
        elif ev.kind == "paused" and ev.job == self._shown_job:
            paused = ev.result
            if ev.frame is not None:
                self.preview.show_frame(ev.frame, 0.0)
            self.preview.debug.show_paused(paused.position, paused.kept, ev.total, paused.can_edit)
        elif ev.kind == "result":
            self._finished(ev.result)
        elif ev.kind == "cancelled" and ev.job == self._shown_job:
            self.preview.stopped("cancelled")
            self.status_label.setText("Cancelled.")
        elif ev.kind == "error":
            if ev.job == self._shown_job:
                self.preview.stopped("failed")
                self.status_label.clear()  # the error is said once, as the message on the left
            self.notify(ev.message, error=True)

    def _finished(self, result: JobResult) -> None:
        req = result.request
        info = CATALOG.get(req.family)
        if req.latent:
            self.latent.set_latent(np.asarray(req.latent, np.float32))
        elif info is not None and info.can("decode"):
            self.latent.follow_seed(req.seed, req.truncation)  # the sliders show the first image's vector
        # The clip shown plays, carrying its settings: only if it is this job's (not a job no longer shown).
        self.preview.finish(result.frames, result.request if result.job_id == self._shown_job else None)
        self.preview.set_clickable(self.session.redraw_hint())

    def _sweep_finished(self, images: list[np.ndarray]) -> None:
        self.blend.sweep_finished(images)
        self.preview.finish(images)  # Export GIF in the preview plays the sweep too

    def _input_changed(self, value: InputImage | None) -> None:
        self.controls.set_init_image(value.hash if value else "", value.image if value else None)
        refit = self._refitting
        if refit is not None and value is not None and value.name == refit[1]:
            self._refitting = None
            if value.hash != refit[0]:  # silent when it already fitted
                self.notify(f"The input image was converted for {refit[2]} ({value.note}).")
            return
        if value is not None and value.name and self.model_panel.family_info().can("video"):
            self.notify(f"Input image {value.name} ({value.note}): Generate now makes a clip that starts from it "
                        "(its first frame).")
        elif value is not None and value.name:
            self.notify(f"Input image {value.name} ({value.note}): Generate now starts from it at strength "
                        f"{self.controls.strength.value():g}.")

    def _start_training(self, family: str, dataset: str, out: str, steps: int, options: dict, train: dict,
                        resume: bool = False) -> None:
        try:
            self.training.start(family, dataset, out, steps, options, train, resume=resume)
        except StudioError as e:
            self.notify(str(e), error=True)
            return
        verb = "Resuming training of" if resume else "Training"
        self.notify(f"{verb} a {family} on {dataset} for {steps} steps into {out}.")

    def _on_training(self, ev: JobEvent) -> None:
        if ev.kind == "progress":
            self.training_panel.show_event(ev.result)
        elif ev.kind == "result":
            self._trained(ev.result)
        elif ev.kind in ("error", "cancelled") and ev.message:
            self.training_panel.status.setText(ev.message)
            self.notify(ev.message, error=ev.kind == "error")  # the user's own Stop is no error

    def _trained(self, path: str) -> None:
        current = self.model_panel.current()
        self.model_panel.rescan()
        self.compare.rescan()  # the new checkpoint can be a column
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
        if self.model_panel.can_add(files[0]):  # a diffusers folder or a Stable Diffusion file: a model
            self.model_panel.add_model(files[0])
            return
        self.load_png(files[0])

    # --- persistence ----------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        raw = s.value("last_request")
        if raw:
            try:
                req = GenerationRequest.from_dict(json.loads(raw))
                self.controls.check(req)  # all or nothing: never half the last settings
                self.model_panel.select(req.family, req.checkpoint)
                self.prompt_panel.set_text(req.prompt, req.negative_prompt)
                self.controls.apply(req)
                self.session.show_input(req.init_image)  # the last input image, read off the GUI thread
            except (StudioError, ValueError, TypeError):
                pass  # stale settings from an older version: keep the defaults
        self._family_changed(self.model_panel.family_info())
        # The minimum size the family's rows and docks leave, not the one of all rows that the docks
        # remember from before: a window not shown yet does not update it by itself.
        for dock in self.docks.values():
            dock.widget().updateGeometry()
        self.layout().activate()
        # The window's size first, then the docks' layout within it: a layout restored into a window of
        # another size is squeezed. Neither when the saved window is larger than this screen.
        if self._restore_geometry(s.value("geometry")) and s.value("state"):
            self.restoreState(s.value("state"))
            self._latent_sized = False  # a restored Latent dock is fitted (a tab, if need be) when it shows
        self._family_changed(self.model_panel.family_info())  # a restored layout must not show stale docks
        self.controls.seed_lock.setChecked(s.value("seed_locked", False, type=bool))
        self.preview.show_noisy.setChecked(s.value("show_noisy", False, type=bool))

    def _restore_geometry(self, geometry) -> bool:
        """The saved window geometry, unless it is larger than this screen: then the default size, and
        a word about it. True when restored (its dock layout may follow)."""
        saved, room = saved_geometry(geometry), self.screen_rect().size()
        if saved is not None and (saved[0].width() > room.width() or saved[0].height() > room.height()):
            self.notify("The saved window layout was made for a larger screen: the panels are in their default "
                        "places, sized to fit this one.")
            geometry = None
        if not geometry or not self.restoreGeometry(geometry):
            self.arrangement.default_size()
            self.arrangement.fit()
            return False
        if saved is not None and not (self.isMaximized() or self.isFullScreen()):
            frame, normal = saved  # exactly as saved (Qt's restore guesses a title bar), so its dock layout fits
            self.resize(normal.size())
            self.move(frame.topLeft())
        self.arrangement.fit()
        return True

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
        # Gone from the screen at once: a model being loaded stops only at the end of its loading stage,
        # and the running job is put back in the saved queue for the next start.
        self.hide()
        self.session.shutdown()  # stops generating; the gallery writes asked for are finished first
        self.latent.shutdown()
        self.training.stop()
        self.training.wait()  # a stopped run saves its resumable state
        self.training.shutdown()
        self.compare.shutdown()
        super().closeEvent(event)
