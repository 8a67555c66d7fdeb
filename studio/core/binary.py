"""Binarised images, shared by the families that model pixels as on/off (the VAE's Bernoulli
decoder, the PixelCNN, the VQ-VAE tokenizer): how grey images become binary ones, for training
(fresh draws every time an image is seen) and for evaluation (one fixed draw per seed)."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from .pixels import to_unit
from .training.stream import inner, nest, resumable


def binarize(images: np.ndarray, seed: int = 0) -> torch.Tensor:
    """(N, H, W[, 1]) uint8 -> (N, 1, H, W) {0, 1}: each pixel on with probability intensity/255."""
    return torch.bernoulli(to_unit(images), generator=torch.Generator().manual_seed(seed))


class Binarized:
    """Batches in [-1, 1] mapped to fresh Bernoulli samples with the pixel intensity as probability;
    resumable (studio.core.training.stream) when the batches it maps are."""

    def __init__(self, batches: Iterator[tuple[torch.Tensor, torch.Tensor | None]], seed: int) -> None:
        self.batches = resumable(batches)
        self.g = torch.Generator().manual_seed(seed + 1)

    def __iter__(self) -> "Binarized":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, cond = next(self.batches)
        p = ((x + 1) / 2).clamp(0, 1)
        return torch.bernoulli(p.cpu(), generator=self.g).to(x.device), cond

    def state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        info, tensors = nest("inner", self.batches.state())
        return {**info, "kind": "binarized"}, {**tensors, "rng": self.g.get_state()}

    def restore(self, info: dict, tensors: dict[str, torch.Tensor]) -> None:
        self.batches.restore(*inner("inner", info, tensors))
        self.g.set_state(tensors["rng"])


def binarized(batches: Iterator[tuple[torch.Tensor, torch.Tensor | None]], seed: int) -> Binarized:
    """Map batches in [-1, 1] to fresh Bernoulli samples with the pixel intensity as probability."""
    return Binarized(batches, seed)


def binary_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 1, H, W) {0, 1} pixels -> (B, H, W, 1) uint8 {0, 255}."""
    return (x * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
