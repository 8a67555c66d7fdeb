"""The step debugger's bar under Generate: pause, one step, resume, a slider over the steps run (rewind),
and "Apply from here", which sends the current prompt, negative prompt, guidance and sampler as edits
for the rest of the run. It only presents: the window sends what it asks to the generation worker."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget


class DebugBar(QWidget):
    pauseToggled = Signal(bool)
    stepClicked = Signal()
    rewindTo = Signal(int)  # steps done
    applyClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Hold the running generation between two steps (it resumes when released)")
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("Run one more step, then hold")
        self.apply_button = QPushButton("Apply from here")
        self.apply_button.setToolTip("From this step on, run with the prompt, negative prompt, guidance and "
                                     "sampler set now; the image's settings record the change and its step")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("The steps run so far: drag back to rewind; an edit there branches from it")
        self.position = QLabel()
        buttons = QHBoxLayout()
        for b in (self.pause_button, self.step_button, self.apply_button):
            buttons.addWidget(b)
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.position)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addLayout(row)

        self.pause_button.toggled.connect(self._paused)
        self.step_button.clicked.connect(self.stepClicked)
        self.apply_button.clicked.connect(self.applyClicked)
        self.slider.sliderReleased.connect(lambda: self.rewindTo.emit(self.slider.value()))
        self.slider.actionTriggered.connect(self._moved_by_keys_or_clicks)
        self.set_running(False)

    def set_running(self, running: bool) -> None:
        """A run started or ended: the bar works while one runs."""
        for w in (self.pause_button, self.step_button):
            w.setEnabled(running)
        if not running:
            self.pause_button.setChecked(False)
            self.slider.setRange(0, 0)
            self.position.clear()
        self.apply_button.setEnabled(False)
        self.slider.setEnabled(False)

    def show_paused(self, position: int, kept: int, total: int, can_edit: bool) -> None:
        """The run holds after ``position`` of ``total`` steps, ``kept`` run in this branch."""
        self.pause_button.setChecked(True)
        self.slider.setEnabled(True)
        self.slider.blockSignals(True)
        self.slider.setRange(0, kept)
        self.slider.setValue(position)
        self.slider.blockSignals(False)
        self.position.setText(f"{position}/{total}")
        self.apply_button.setEnabled(can_edit and 0 < position < total)
        self.apply_button.setToolTip(self.apply_button.toolTip() if can_edit else
                                     "This family cannot change its settings mid-run")

    def show_step(self, step: int, total: int) -> None:
        self.position.setText(f"{step}/{total}")

    def _paused(self, on: bool) -> None:
        self.pause_button.setText("Resume" if on else "Pause")
        if not on:
            self.apply_button.setEnabled(False)
            self.slider.setEnabled(False)
        self.pauseToggled.emit(on)

    def _moved_by_keys_or_clicks(self, action: int) -> None:
        if not self.slider.isSliderDown():  # a page click or an arrow key: the value is set after this signal
            self.slider.valueChanged.connect(self._rewind_once, Qt.ConnectionType.SingleShotConnection)

    def _rewind_once(self, value: int) -> None:
        self.rewindTo.emit(value)
