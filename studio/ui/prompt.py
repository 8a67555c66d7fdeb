"""The Prompt panel: what to draw, and what to steer away from."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget


class PromptPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("a sneaker   (empty: sample without a prompt)")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setMaximumHeight(90)
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("negative prompt: what to steer away from (optional)")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Prompt"))
        layout.addWidget(self.prompt)
        layout.addWidget(self.negative)
        layout.addStretch(1)

    def text(self) -> str:
        return " ".join(self.prompt.toPlainText().split())

    def set_text(self, prompt: str, negative: str = "") -> None:
        self.prompt.setPlainText(prompt)
        self.negative.setText(negative)

    def negative_text(self) -> str:
        return self.negative.text().strip()
