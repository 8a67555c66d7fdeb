"""Every conversion between pixels and tensors, in one place. Pixels are (N, H, W, C) uint8 numpy
arrays; tensors are (N, C, H, W) float in one of two ranges, named in the function: *signed*
([-1, 1], what diffusion, the GAN and the classifiers work in) or *unit* ([0, 1], pixel
probabilities: the VAE's and the binary models' range)."""
from __future__ import annotations

import hashlib

import numpy as np
import torch


def _nchw(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.array(images, dtype=np.float32))
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)


def _nhwc_uint8(x: torch.Tensor) -> np.ndarray:
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def to_signed(images: np.ndarray) -> torch.Tensor:
    """(N, H, W) or (N, H, W, C) uint8 -> (N, C, H, W) float32 in [-1, 1]."""
    return _nchw(images) / 127.5 - 1.0


def from_signed(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8 on the CPU."""
    return _nhwc_uint8((x.detach().float().clamp(-1, 1) + 1) * 127.5)


def to_unit(images: np.ndarray) -> torch.Tensor:
    """(N, H, W) or (N, H, W, C) uint8 -> (N, C, H, W) float32 in [0, 1]."""
    return _nchw(images) / 255.0


def from_unit(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [0, 1] (values or probabilities) -> (N, H, W, C) uint8 on the CPU."""
    return _nhwc_uint8(x.detach().float().clamp(0, 1) * 255)


def content_hash(image: np.ndarray) -> str:
    """A short hash of an image's shape and pixels: how a request names its input image."""
    a = np.ascontiguousarray(image, dtype=np.uint8)
    return hashlib.sha256(repr(a.shape).encode() + a.tobytes()).hexdigest()[:16]
