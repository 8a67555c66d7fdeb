"""A classifier of the Faces attributes, trained on procedural faces only. It judges generated
faces: how much a latent edit changed each attribute, and (through its features) a Frechet
distance between generated and real faces, as the Fashion-MNIST classifier does for clothing."""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import checkpoint as ckpt_io
from ..data.faces import ATTRIBUTES, make_faces
from ..events import TrainEvent
from ..pixels import to_signed

FAMILY = "face-classifier"
TRAIN_SEED, TEST_SEED = 100, 101  # disjoint from the GAN's training faces (seed 0)


def _heads() -> list[tuple[str, str, int]]:
    """(name, kind, outputs) per attribute: one output for continuous and binary, k for categorical."""
    return [(a.name, a.kind, a.classes if a.kind == "categorical" else 1) for a in ATTRIBUTES]


class FaceClassifier(nn.Module):
    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.features_net = nn.Sequential(
            nn.Conv2d(3, w, 3, 2, 1), nn.SiLU(), nn.Conv2d(w, 2 * w, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.SiLU(), nn.Flatten(), nn.Linear(4 * w * 16, 128), nn.SiLU())
        self.head = nn.Linear(128, sum(k for _, _, k in _heads()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features_net(x)
        return f, self.head(f)

    @staticmethod
    def to_input(images: np.ndarray) -> torch.Tensor:
        """(N, 32, 32, 3) uint8 -> (N, 3, 32, 32) in [-1, 1]."""
        return to_signed(images)

    @torch.no_grad()
    def embed(self, images: np.ndarray, batch: int = 500) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Features (N, 128) and per-attribute predictions: continuous values, the probability of
        glasses, and class indices for categorical attributes."""
        self.eval()
        device = next(self.parameters()).device
        feats, outs = [], []
        for s in range(0, len(images), batch):
            f, o = self(self.to_input(images[s:s + batch]).to(device))
            feats.append(f.cpu())
            outs.append(o.cpu())
        out = torch.cat(outs)
        preds: dict[str, np.ndarray] = {}
        col = 0
        for name, kind, k in _heads():
            block = out[:, col:col + k]
            col += k
            if kind == "continuous":
                preds[name] = block[:, 0].numpy()
            elif kind == "binary":
                preds[name] = torch.sigmoid(block[:, 0]).numpy()
            else:
                preds[name] = block.argmax(1).numpy()
        return torch.cat(feats).numpy(), preds


def loss_fn(out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    total, col = out.new_zeros(()), 0
    for j, (_name, kind, k) in enumerate(_heads()):
        block, t = out[:, col:col + k], targets[:, j]
        col += k
        if kind == "continuous":
            total = total + 10.0 * F.mse_loss(block[:, 0], t)  # values span ~1: weight them like the others
        elif kind == "binary":
            total = total + F.binary_cross_entropy_with_logits(block[:, 0], t)
        else:
            total = total + F.cross_entropy(block, t.long())
    return total


def scores(clf: FaceClassifier, images: np.ndarray, attrs: np.ndarray) -> dict[str, float]:
    """Test figures: mean absolute error for continuous attributes, accuracy for the others."""
    _, preds = clf.embed(images)
    out = {}
    for j, (name, kind, _k) in enumerate(_heads()):
        if kind == "continuous":
            out[f"{name}_mae"] = float(np.abs(preds[name] - attrs[:, j]).mean())
        elif kind == "binary":
            out[f"{name}_accuracy"] = float(((preds[name] >= 0.5) == (attrs[:, j] >= 0.5)).mean())
        else:
            out[f"{name}_accuracy"] = float((preds[name] == attrs[:, j]).mean())
    return out


@dataclass
class FaceClassifierConfig:
    train_faces: int = 20_000
    test_faces: int = 2_000
    epochs: int = 3
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0


def iter_train(out: str | Path, cfg: FaceClassifierConfig, device: str = "cpu",
               command: str = "") -> Iterator[TrainEvent]:
    torch.manual_seed(cfg.seed)
    t0 = time.perf_counter()
    images, attrs = make_faces(cfg.train_faces, TRAIN_SEED)
    x_all, y_all = FaceClassifier.to_input(images), torch.from_numpy(attrs)
    clf = FaceClassifier().to(device)
    opt = torch.optim.AdamW(clf.parameters(), lr=cfg.lr)
    steps_per_epoch = len(x_all) // cfg.batch_size
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=total)
    g = torch.Generator().manual_seed(cfg.seed)
    step = 0
    for _epoch in range(cfg.epochs):
        perm = torch.randperm(len(x_all), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            _, o = clf(x_all[idx].to(device))
            loss = loss_fn(o, y_all[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 20 == 0 or step == total:
                yield TrainEvent("step", step, total, {"loss": float(loss.detach())})
    test_images, test_attrs = make_faces(cfg.test_faces, TEST_SEED)
    metrics = scores(clf, test_images, test_attrs)
    seconds = time.perf_counter() - t0
    card = {"id": Path(out).stem, "family": FAMILY, "data": {"dataset": "faces", "train_seed": TRAIN_SEED,
            "train_faces": cfg.train_faces, "test_seed": TEST_SEED, "test_faces": cfg.test_faces},
            "training": {**asdict(cfg), "seconds": round(seconds, 1)}, "metrics": {"test": metrics},
            "reproduce": command}
    path = ckpt_io.save(out, family=FAMILY, config={"width": 32, "attributes": [list(h) for h in _heads()]},
                        tensors={f"model.{k}": v for k, v in clf.state_dict().items()}, card=card)
    yield TrainEvent("done", step, total, {**metrics, "seconds": seconds}, path=str(path))


def load_face_classifier(path: str | Path, device: str = "cpu") -> FaceClassifier:
    ck = ckpt_io.load(path, family=FAMILY)
    clf = FaceClassifier(int(ck.config.get("width", 32)))
    ckpt_io.load_state(clf, ck.group("model"), Path(path).name)
    return clf.to(device).eval()
