"""The Queue panel: jobs waiting behind the running one; reorder, remove, pause or resume."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ..workers.generation import GenerationController


def describe(req) -> str:
    return f"{req.prompt or '(no prompt)'} · {req.sampler} {req.steps} steps · seed {req.seed} · ×{req.batch_size}"


class QueuePanel(QWidget):
    editRequested = Signal(str, object)  # job id, its GenerationRequest: to be edited (then ``take`` it)

    def __init__(self, controller: GenerationController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.header = QLabel()
        self.list = QListWidget()
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.remove_button = QPushButton("Remove")
        self.run_button = QPushButton()
        row = QHBoxLayout()
        for b in (self.up_button, self.down_button, self.remove_button, self.run_button):
            row.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(+1))
        self.remove_button.clicked.connect(self._remove)
        self.run_button.clicked.connect(self._toggle_run)
        self.list.itemDoubleClicked.connect(lambda _item: self.edit_selected())
        self.list.setToolTip("Double-click a job to take it out of the queue and edit its settings")
        controller.queueChanged.connect(self.refresh)
        controller.busyChanged.connect(lambda _b: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        current = self._selected_id()
        self.list.clear()
        for job_id, req in self.controller.queue.jobs():
            item = QListWidgetItem(describe(req))
            item.setData(Qt.ItemDataRole.UserRole, job_id)
            self.list.addItem(item)
            if job_id == current:
                self.list.setCurrentItem(item)
        n = self.list.count()
        paused = self.controller.queue_paused
        self.header.setText(f"{n} queued" + (" — paused" if paused and n else ""))
        self.run_button.setText("Resume" if paused else "Pause")
        self.run_button.setEnabled(n > 0 or paused)

    def _selected_id(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _move(self, delta: int) -> None:
        job_id = self._selected_id()
        if job_id:
            self.controller.queue.move(job_id, max(0, self.list.currentRow() + delta))
            self.refresh()

    def _remove(self) -> None:
        job_id = self._selected_id()
        if job_id:
            self.controller.queue.remove(job_id)
            self.refresh()

    def edit_selected(self) -> None:
        job_id = self._selected_id()
        if job_id:
            self.editRequested.emit(job_id, dict(self.controller.queue.jobs())[job_id])

    def take(self, job_id: str) -> None:
        """Out of the queue once its settings are in the panels (never before: a refusal keeps it)."""
        self.controller.queue.remove(job_id)
        self.refresh()

    def _toggle_run(self) -> None:
        if self.controller.queue_paused:
            self.controller.resume_queue()
        else:
            self.controller.pause_queue()
