"""DiffAugment (Zhao et al. 2020): the same random, differentiable transforms applied to real and to
generated images before the critic sees either, so a critic trained on little data cannot simply
memorise the real images, while the generator, whose gradient flows back through the transforms,
is still pushed towards the un-augmented data. Follows the authors' reference code: colour
(brightness, saturation, contrast), translation by up to 1/8 of the side with zero fill, and cutout
of a random square half the side.

Draws from torch's global generator on the images' device, which the trainer seeds and saves, so a
resumed run augments exactly as the uninterrupted one would."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .config import DIFFAUGMENT_POLICIES


def _rand(x: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, dtype=x.dtype, device=x.device)


def colour(x: torch.Tensor) -> torch.Tensor:
    """Random brightness, saturation and contrast per image (colour images only)."""
    x = x + (_rand(x, 1, 1, 1) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, 1, 1, 1) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its side in each direction; what comes in is zero."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    b, gy, gx = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                               torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy + dy + 1, 0, h + 1)  # index into a 1-pixel zero border: off the image reads 0
    gx = torch.clamp(gx + dx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    return padded[b, gy, gx].permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ``ratio`` of the side at a random place in each image (it may overhang)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    b, gy, gx = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                               torch.arange(cw, device=x.device), indexing="ij")
    gy = torch.clamp(gy + oy - ch // 2, 0, h - 1)
    gx = torch.clamp(gx + ox - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[b, gy, gx] = 0
    return x * mask.unsqueeze(1)


TRANSFORMS = {"color": colour, "translation": translation, "cutout": cutout}  # DIFFAUGMENT_POLICIES' names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    """``x`` (N, C, H, W) through each transform of ``policy`` in the reference order; () is identity."""
    for name in DIFFAUGMENT_POLICIES:
        if name in policy:
            x = TRANSFORMS[name](x)
    return x
