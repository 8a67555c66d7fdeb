"""The Training panel: train a GAN or a VAE from the studio and watch it. Every logged step adds
points to the loss curves (for a GAN: both players' losses and the critic's mean logits on real
and generated images, D(x) and D(G(z))), and every sample step shows the fixed-noise grid, so
instability and mode collapse are visible as they happen. Stop saves a resumable state beside the
output; Resume (enabled while that state file exists) continues from it, as ``genstudio train --resume``."""
from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.training.paths import state_path
from ..core.training.recipes import Recipe, studio_recipes
from ..store.paths import user_data_dir
from .canvas import ImageCanvas
from .latent_map import CLASS_COLOURS
from .qimage import batch_qimage

PLOTTED = ("loss", "d_loss", "g_loss", "d_real", "d_fake", "nelbo", "kl", "recon")


class TrainingPanel(QWidget):
    # family, dataset, out, steps, options, trainer settings, resume (continue from out's state file)
    startRequested = Signal(str, str, str, int, dict, dict, bool)
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # What the panel can train: the recipes marked for the studio, with the settings the shipped
        # checkpoints were trained with (studio.core.training.recipes).
        self.recipes: dict[str, Recipe] = {r.label: r for r in studio_recipes()}
        self.recipe = QComboBox()
        self.recipe.addItems(list(self.recipes))
        self.steps = QSpinBox(minimum=10, maximum=200_000, value=3000, singleStep=500)
        self.name = QLineEdit("my-model")
        self.name.setToolTip("Saved as <user data>/checkpoints/NAME.safetensors, where the Model panel finds it")
        self.start_button = QPushButton("Train")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the stopped or interrupted run of this name from its saved state")
        self._busy = False
        self.status = QLabel("Pick what to train, then Train. The curves and samples update as it goes.")
        self.status.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("#1e1e22")
        self.plot.addLegend(offset=(-4, 4), labelTextSize="7pt")
        self.plot.setLabel("bottom", "step")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.series: dict[str, tuple[list[int], list[float]]] = {}
        self.samples = ImageCanvas("fixed-noise samples appear here")
        self.samples.setMinimumSize(120, 120)
        self.extra_options: dict = {}  # merged into the recipe's options (tests use tiny networks)

        form = QFormLayout()
        form.addRow("Train", self.recipe)
        form.addRow("Steps", self.steps)
        form.addRow("Name", self.name)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.stop_button)
        views = QHBoxLayout()
        views.addWidget(self.plot, 2)
        views.addWidget(self.samples, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addLayout(views, 1)
        layout.addWidget(self.status)
        self.start_button.clicked.connect(lambda: self._start(resume=False))
        self.resume_button.clicked.connect(lambda: self._start(resume=True))
        self.recipe.currentTextChanged.connect(self._recipe_changed)
        self.name.textChanged.connect(self.refresh_resume)
        self._recipe_changed()
        self.stop_button.clicked.connect(self.stopRequested)
        self.refresh_resume()

    def out_path(self) -> str:
        name = "".join(c for c in self.name.text().strip() if c.isalnum() or c in "-_") or "my-model"
        return str(user_data_dir() / "checkpoints" / f"{name}.safetensors")

    def state_file(self) -> Path:
        """Where a run of the chosen name keeps its resumable state."""
        return state_path(self.out_path())

    def refresh_resume(self) -> None:
        """Resume is offered only while no run is going and the chosen name has a saved state."""
        self.resume_button.setEnabled(not self._busy and self.state_file().is_file())

    def current_recipe(self) -> Recipe | None:
        return self.recipes.get(self.recipe.currentText())

    def _recipe_changed(self) -> None:
        r = self.current_recipe()
        if r is not None:
            self.steps.setValue(r.steps)  # as the shipped model was trained; shorten it at will
            self.recipe.setToolTip(f"{r.name}: {r.steps} steps, batch {r.batch_size}, learning rate {r.lr:g}, "
                                   f"{r.precision}")

    def _start(self, resume: bool) -> None:
        """Train afresh, or resume: the same recipe, steps and settings continue from the saved state (the
        curves then go on where they were)."""
        r = self.current_recipe()
        if r is None:
            return
        steps = self.steps.value()
        train = {**r.trainer_settings(), "log_every": max(1, steps // 300), "sample_every": max(10, steps // 10),
                 "checkpoint_every": max(50, steps // 5), "warmup": min(r.warmup, steps // 10)}
        if not resume:
            for curve in self.curves.values():
                self.plot.removeItem(curve)
            self.plot.getPlotItem().legend.clear()
            self.curves, self.series = {}, {}
            self.samples.set_image(None)
        self.startRequested.emit(r.family, r.dataset, self.out_path(), steps, {**r.task_options(), **self.extra_options},
                                 train, resume)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.refresh_resume()  # a stopped run has just saved its state

    def show_event(self, ev) -> None:
        if ev.kind == "step":
            for k, v in ev.metrics.items():
                if k not in PLOTTED:
                    continue
                xs, ys = self.series.setdefault(k, ([], []))
                xs.append(ev.step)
                ys.append(v)
                if k not in self.curves:
                    colour = CLASS_COLOURS[len(self.curves) % len(CLASS_COLOURS)]
                    self.curves[k] = self.plot.plot(name=k, pen=pg.mkPen(colour, width=2))
                self.curves[k].setData(xs, ys)
            figures = ", ".join(f"{k} {v:.3g}" for k, v in ev.metrics.items() if k in PLOTTED)
            self.status.setText(f"step {ev.step}/{ev.total}: {figures}")
        elif ev.kind == "samples" and ev.images is not None:
            self.samples.set_image(batch_qimage(ev.images))
        elif ev.kind == "done":
            self.status.setText(f"Done: {ev.step} steps in {ev.metrics.get('seconds', 0):.0f} s; saved {ev.path}. "
                                "It is now in the Model panel.")
