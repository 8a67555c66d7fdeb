"""The Model panel: family and checkpoint, listed from the registry, with the model card."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from ..core.catalog import CATALOG, FamilyInfo
from ..store.registry import CheckpointInfo, scan


def card_html(info: CheckpointInfo) -> str:
    card = info.card
    rows = [f"<b>{info.title}</b> — {info.family}, data: {info.dataset or '?'}"]
    t = card.get("training", {})
    if t:
        rows.append(f"trained {t.get('steps_done', '?')} steps in {t.get('seconds', '?')} s on {t.get('device', '?')}")
    q = card.get("metrics", {}).get("quality", {})
    if "fid_face_classifier" in q:
        rows.append(f"Faces-classifier FD {q['fid_face_classifier']:.2f} "
                    f"(real faces: {q['fid_face_classifier_real_vs_real_same_n']:.2f})")
    elif q:
        fd = (f"classifier FD {q['fid_classifier']:.2f} "
              f"(real data: {q.get('fid_classifier_train_vs_test_same_n', float('nan')):.2f})")
        if q.get("prompt_accuracy") is None:
            rows.append(f"unconditional; {fd}")
        else:
            rows.append(f"prompt accuracy {q['prompt_accuracy']:.1%} (paraphrases "
                        f"{q.get('held_out_prompt_accuracy') or 0:.1%}); {fd}")
        b = q.get("real_reference")
        if b:
            rows.append(f"real test images shown the same way ({b['what']}): {b['accuracy']:.1%} accuracy, "
                        f"FD {b['fid_classifier_same_n']:.2f}")
    ed = card.get("metrics", {}).get("attribute_edit", {})
    if ed:
        worst = max(ed["others_change"].items(), key=lambda kv: kv[1])
        rows.append(f"{ed['attribute']} slider −3→+3: {ed['attribute']} score {ed['mean_score'][0]:.2f} → "
                    f"{ed['mean_score'][-1]:.2f}{' (monotonic)' if ed['monotonic'] else ''}; largest other "
                    f"change: {worst[0]} {worst[1]:.3f}")
    lk = card.get("metrics", {}).get("likelihood", {})
    if "test_nll_nats" in lk:  # autoregressive: exact (PixelCNN) or a bound through the VQ-VAE
        kind = "exact" if lk.get("exact") else "upper bound"
        rows.append(f"test NLL {lk['test_nll_nats']:.1f} nats = {lk['test_nll_bits_per_dim']:.3f} bits/dim "
                    f"({kind}, binarised Fashion-MNIST)")
    elif lk:
        rows.append(f"test NLL {lk['test_nll_iwae_nats']:.1f} nats (IWAE k={lk['iwae_k']}), "
                    f"ELBO {lk['test_elbo_nats']:.1f}, reconstruction MSE {lk['reconstruction_mse']:.4f}, "
                    f"active units {lk.get('active_units', '?')} of {lk.get('latent_dim', '?')}")
    ad = card.get("metrics", {}).get("adherence", {})
    if ad:
        tasks = ", ".join(f"{t.replace('_', ' ')} {v:.2f}" for t, v in ad["tasks"].items())
        rows.append(f"prompt adherence {ad['overall']:.2f} (GenEval-style, guidance "
                    f"{ad['settings'].get('guidance', '?')}): {tasks}")
    sp = card.get("metrics", {}).get("sampling_speed", {})
    if sp:
        rows.append(f"{sp['cached_seconds_per_image']:.2f} s per image cached, {sp['speedup']:.0f}x faster than "
                    f"the naive loop ({sp['naive_seconds_per_image']:.1f} s), batch {sp['batch']} on {sp['device']}")
    if card.get("reproduce"):
        rows.append(f"<small>reproduce: <code>{card['reproduce']}</code></small>")
    return "<br>".join(rows)


class ModelPanel(QWidget):
    familyChanged = Signal(object)  # FamilyInfo
    checkpointChanged = Signal(object)  # CheckpointInfo | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.family = QComboBox()
        self.checkpoint = QComboBox()
        self.refresh_button = QPushButton("Rescan")
        self.card = QTextBrowser()
        self.card.setMaximumHeight(140)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #c55")
        self._infos: list[CheckpointInfo] = []
        form = QFormLayout()
        form.addRow("Family", self.family)
        form.addRow("Checkpoint", self.checkpoint)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.card)
        layout.addWidget(self.problems)
        layout.addWidget(self.refresh_button)
        for info in CATALOG.values():
            self.family.addItem(info.label, info.name)
        self.family.currentIndexChanged.connect(self._family_changed)
        self.checkpoint.currentIndexChanged.connect(self._checkpoint_changed)
        self.refresh_button.clicked.connect(self.rescan)

    def rescan(self) -> None:
        self._infos, problems = scan()
        self.problems.setText("\n".join(problems))
        self._family_changed()

    def family_info(self) -> FamilyInfo:
        return CATALOG[self.family.currentData()]

    def current(self) -> CheckpointInfo | None:
        i = self.checkpoint.currentIndex()
        return self.checkpoint.itemData(i) if i >= 0 else None

    def select(self, family: str, checkpoint: str) -> bool:
        """Select a checkpoint by family and id; False if it is not registered."""
        fi = self.family.findData(family)
        if fi < 0:
            return False
        self.family.setCurrentIndex(fi)
        for i in range(self.checkpoint.count()):
            if self.checkpoint.itemData(i).id == checkpoint:
                self.checkpoint.setCurrentIndex(i)
                return True
        return False

    def _family_changed(self) -> None:
        info = self.family_info()
        self.checkpoint.blockSignals(True)
        self.checkpoint.clear()
        for ck in self._infos:
            if ck.family == info.name:
                self.checkpoint.addItem(ck.title, ck)
        self.checkpoint.blockSignals(False)
        self.familyChanged.emit(info)
        self._checkpoint_changed()

    def _checkpoint_changed(self) -> None:
        ck = self.current()
        self.card.setHtml(card_html(ck) if ck else "No checkpoint of this family is installed. "
                          "Train one with <code>genstudio train</code>.")
        self.checkpointChanged.emit(ck)
