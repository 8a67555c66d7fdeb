"""What the families with a latent vector (VAE, GAN) share: the prior's seeded draws, and the slider
basis and latent-map points a checkpoint ships beside its weights."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import checkpoint as ckpt_io
from ..latent import LatentBasis

MIN_EXPLAINED = 0.005  # principal directions with less of the variance than this get no slider


@dataclass
class LatentMap:
    """Encoded images to scatter over the latent map: posterior means and their class labels."""

    points: np.ndarray  # (N, D)
    labels: np.ndarray  # (N,)
    class_names: list[str]
    source: str  # which images they are, e.g. "fashion-mnist test split (2000 images)"


def prior_latents(seed: int, n: int, dim: int) -> np.ndarray:
    """Image i of a batch with seed s is image 0 of seed s + i, as in the other families."""
    return np.stack([torch.randn(dim, generator=torch.Generator().manual_seed(seed + i)).numpy()
                     for i in range(n)]).astype(np.float32)


def basis_from_checkpoint(ck: ckpt_io.Checkpoint, dim: int) -> LatentBasis:
    """The sliders' basis: named directions stored under ``latent.`` (principal or attribute
    directions), else the raw axes."""
    g = ck.group("latent")
    if "directions" not in g:
        return LatentBasis.axes(dim)
    k = len(g["directions"])
    names = list(ck.config.get("latent_basis_names") or [f"PC{i + 1}" for i in range(k)])[:k]
    basis = LatentBasis(names, g["directions"].numpy(), g["origin"].numpy(), g["scales"].numpy(),
                        g["explained"].numpy() if "explained" in g else None)
    if basis.explained is None:
        return basis
    # Units the KL term switched off ("posterior collapse") carry no variance: no slider for them.
    keep = max(2, int((basis.explained >= MIN_EXPLAINED).sum()))
    return LatentBasis(basis.names[:keep], basis.directions[:keep], basis.origin, basis.scales[:keep],
                       basis.explained[:keep])


def map_from_checkpoint(ck: ckpt_io.Checkpoint) -> LatentMap | None:
    g = ck.group("map")
    if "points" not in g:
        return None
    info = ck.config.get("map", {})
    return LatentMap(g["points"].numpy(), g["labels"].numpy(), list(info.get("class_names", [])),
                     str(info.get("source", "encoded images")))


def basis_tensors(basis: LatentBasis) -> dict[str, torch.Tensor]:
    """A basis as the ``latent.*`` tensors a checkpoint ships."""
    out = {"latent.directions": torch.from_numpy(np.ascontiguousarray(basis.directions, np.float32)),
           "latent.origin": torch.from_numpy(np.ascontiguousarray(basis.origin, np.float32)),
           "latent.scales": torch.from_numpy(np.ascontiguousarray(basis.scales, np.float32))}
    if basis.explained is not None:
        out["latent.explained"] = torch.from_numpy(np.ascontiguousarray(basis.explained, np.float32))
    return out
