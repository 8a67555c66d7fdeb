"""Latent-space geometry shared by the families with a latent vector (VAE, GAN): interpolation, a
basis of named directions (raw axes, or principal directions of encoded data) and planes of points
for latent maps. Plain numpy, so the UI can use it without torch."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (1.0 - t) * a + t * b


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: keeps the norm typical of Gaussian samples, which a straight line
    between two of them does not (its midpoint is ~30% shorter), so decoders see in-distribution
    vectors all the way (White 2016)."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-8 or nb < 1e-8:
        return lerp(a, b, t)
    cos = float(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
    omega = np.arccos(cos)
    if omega < 1e-4:
        return lerp(a, b, t)
    s = np.sin(omega)
    return (np.sin((1 - t) * omega) / s) * a + (np.sin(t * omega) / s) * b


def interpolate(a: np.ndarray, b: np.ndarray, frames: int, mode: str = "slerp") -> np.ndarray:
    """(frames, D) points from a to b inclusive."""
    if frames < 2:
        raise ValueError("an interpolation needs at least 2 frames")
    if mode not in ("lerp", "slerp"):
        raise ValueError(f"mode must be 'lerp' or 'slerp', got {mode!r}")
    f = slerp if mode == "slerp" else lerp
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.stack([f(a, b, t) for t in np.linspace(0.0, 1.0, frames)]).astype(np.float32)


@dataclass
class LatentBasis:
    """Coordinates for sliders: z = origin + sum_k c_k * scale_k * direction_k + residual.

    With the raw axes, c is z itself. With principal directions, c_k is measured in standard
    deviations of the encoded data along direction k, so every slider's range means the same."""

    names: list[str]
    directions: np.ndarray  # (K, D), orthonormal rows
    origin: np.ndarray  # (D,)
    scales: np.ndarray  # (K,)
    explained: np.ndarray | None = None  # (K,) fraction of variance, for principal directions

    @property
    def dim(self) -> int:
        return int(self.directions.shape[1])

    def __len__(self) -> int:
        return int(self.directions.shape[0])

    @classmethod
    def axes(cls, dim: int) -> "LatentBasis":
        return cls([f"z{i + 1}" for i in range(dim)], np.eye(dim, dtype=np.float32),
                   np.zeros(dim, np.float32), np.ones(dim, np.float32))

    @classmethod
    def principal(cls, codes: np.ndarray, k: int) -> "LatentBasis":
        """The top-k principal directions of ``codes`` (N, D), e.g. posterior means of training images."""
        codes = np.asarray(codes, np.float64)
        mean = codes.mean(0)
        _, s, vt = np.linalg.svd(codes - mean, full_matrices=False)
        var = s**2 / max(1, len(codes) - 1)
        k = min(k, len(var))
        explained = var[:k] / var.sum()
        return cls([f"PC{i + 1}" for i in range(k)], vt[:k].astype(np.float32), mean.astype(np.float32),
                   np.sqrt(var[:k]).astype(np.float32), explained.astype(np.float32))

    def to_coords(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Slider coordinates of z, and the residual outside the basis' span (zero for full axes)."""
        d = np.asarray(z, np.float32) - self.origin  # (D,) or (N, D)
        coords = (d @ self.directions.T) / self.scales
        residual = d - (coords * self.scales) @ self.directions
        return coords.astype(np.float32), residual.astype(np.float32)

    def to_latent(self, coords: np.ndarray, residual: np.ndarray | None = None) -> np.ndarray:
        z = self.origin + (np.asarray(coords, np.float32) * self.scales) @ self.directions
        return (z if residual is None else z + residual).astype(np.float32)

    def plane(self, z: np.ndarray, i: int, j: int, n: int, extent: float = 3.0) -> np.ndarray:
        """(n*n, D) latents on the plane through z spanned by basis directions i and j, their
        coordinates from -extent to +extent; row-major with the top row at coordinate j = +extent."""
        coords, residual = self.to_coords(z)
        ticks = np.linspace(-extent, extent, n)
        out = np.empty((n * n, self.dim), np.float32)
        for r, cj in enumerate(ticks[::-1]):
            for c, ci in enumerate(ticks):
                cc = coords.copy()
                cc[i], cc[j] = ci, cj
                out[r * n + c] = self.to_latent(cc, residual)
        return out
