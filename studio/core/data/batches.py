"""Endless shuffled batches of images with caption embeddings, for conditional training."""
from __future__ import annotations

import numpy as np
import torch

from ..pixels import to_signed
from ..prompt.encoder import PromptEncoder
from ..training.stream import check_same
from . import fashion_mnist


def class_conditions(encoder: PromptEncoder | None, labels: np.ndarray) -> torch.Tensor | None:
    """Each Fashion-MNIST image's class prompt ("a sneaker"...), the fixed condition used to encode and
    evaluate."""
    if encoder is None:
        return None
    table = encoder.encode([syns[0] for syns in fashion_mnist.SYNONYMS])
    return table[torch.as_tensor(labels, dtype=torch.long)]


def caption_conditions(encoder: PromptEncoder, texts: list[str], tokens: bool = False) -> torch.Tensor:
    """The captions' pooled vectors (N, 384), or with ``tokens`` their packed conditions with the
    token embeddings (studio.core.prompt.packed), all padded to the longest caption."""
    vectors = encoder.encode(texts)
    if not tokens:
        return vectors
    from ..prompt.packed import pack

    return pack(vectors, encoder.encode_tokens(texts))


class CaptionTable:
    """All captions embedded once; a batch looks its conditions up by label."""

    def __init__(self, captions: list[tuple[str, int]], encoder: PromptEncoder, tokens: bool = False) -> None:
        self.texts = [c for c, _ in captions]
        self.labels = torch.tensor([lbl for _, lbl in captions])
        self.embeddings = caption_conditions(encoder, self.texts, tokens)
        n_classes = int(self.labels.max()) + 1
        self.by_class = [torch.nonzero(self.labels == k).flatten() for k in range(n_classes)]

    def sample(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = torch.empty(len(labels), *self.embeddings.shape[1:])
        for k, idx in enumerate(self.by_class):
            mask = labels == k
            m = int(mask.sum())
            if m:
                pick = idx[torch.randint(len(idx), (m,), generator=generator)]
                out[mask] = self.embeddings[pick]
        return out


class CaptionedBatches:
    """Endless shuffled batches (x in [-1,1], caption embedding or None); a fraction p_uncond of
    conditions is zeroed so the same network also learns the unconditional model that classifier-free
    guidance needs. Resumable (studio.core.training.stream): its state is the epoch, the batch within
    it and its generator's state, at the epoch's start (to redraw the permutation) and now.
    ``signed``: ready float tensors (N, ...) served in place of ``to_signed(images)`` (latent
    diffusion's encoded latents); ``images`` is then not read."""

    def __init__(self, images: np.ndarray | None, labels: np.ndarray, table: CaptionTable | None, batch_size: int,
                 *, p_uncond: float = 0.1, device: str = "cpu", seed: int = 0,
                 signed: torch.Tensor | None = None) -> None:
        self.x_all = to_signed(images) if signed is None else signed.float()
        self.y_all = torch.from_numpy(np.asarray(labels)).long()
        self.n = len(self.x_all)
        if self.n == 0:
            raise ValueError("the training set is empty")
        self.table, self.batch_size, self.p_uncond, self.device = table, batch_size, p_uncond, device
        self.starts = range(0, self.n - batch_size + 1 if self.n >= batch_size else 1, batch_size)
        self.g = torch.Generator().manual_seed(seed)
        self.epoch, self.batch = 0, 0  # the batch taken next
        self.perm: torch.Tensor | None = None
        self.epoch_rng: torch.Tensor | None = None  # the generator before this epoch's permutation

    def __iter__(self) -> "CaptionedBatches":
        return self

    def _new_epoch(self) -> None:
        self.epoch_rng = self.g.get_state()
        self.perm = torch.randperm(self.n, generator=self.g)

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.perm is None:
            self._new_epoch()
        elif self.batch == len(self.starts):
            self.epoch, self.batch = self.epoch + 1, 0
            self._new_epoch()
        start = self.starts[self.batch]
        idx = self.perm[start : start + self.batch_size]
        self.batch += 1
        x = self.x_all[idx]
        cond = None
        if self.table is not None:
            cond = self.table.sample(self.y_all[idx], self.g)
            drop = torch.rand(len(idx), generator=self.g) < self.p_uncond
            cond[drop] = 0.0
            cond = cond.to(self.device)
        return x.to(self.device), cond

    def state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        info = {"kind": "captioned", "images": self.n, "batch_size": self.batch_size, "epoch": self.epoch,
                "batch": self.batch, "started": self.perm is not None}
        tensors = {"rng": self.g.get_state()}
        if self.epoch_rng is not None:
            tensors["epoch_rng"] = self.epoch_rng
        return info, tensors

    def restore(self, info: dict, tensors: dict[str, torch.Tensor]) -> None:
        check_same("captioned", info, kind="captioned", images=self.n, batch_size=self.batch_size)
        self.perm = self.epoch_rng = None
        if info["started"]:
            self.g.set_state(tensors["epoch_rng"])
            self._new_epoch()
        self.g.set_state(tensors["rng"])
        self.epoch, self.batch = int(info["epoch"]), int(info["batch"])


def captioned_batches(images: np.ndarray | None, labels: np.ndarray, table: CaptionTable | None, batch_size: int,
                      *, p_uncond: float = 0.1, device: str = "cpu", seed: int = 0,
                      signed: torch.Tensor | None = None) -> CaptionedBatches:
    """Yield (x in [-1,1] or the ``signed`` tensors, caption embedding or None): see CaptionedBatches."""
    return CaptionedBatches(images, labels, table, batch_size, p_uncond=p_uncond, device=device, seed=seed,
                            signed=signed)
