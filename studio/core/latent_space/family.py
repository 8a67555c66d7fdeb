"""What the families with a latent vector (VAE, GAN) share: the prior's seeded draws, and the slider
basis and latent-map points a checkpoint ships beside its weights."""
from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .. import checkpoint as ckpt_io
from ..events import Frame
from ..families.base import Family
from ..request import GenerationRequest
from .basis import LatentBasis

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


class LatentFamily(Family):
    """A family whose images are ``decode(z)`` of one latent vector. Subclasses set ``config`` (with
    image_size and channels), ``basis`` and ``latent_map``, and implement ``latent_dim`` and ``decode``."""

    conditional = False
    # Where principal-direction sliders come from, said in the latent panel's tooltip.
    pcs_source = "the encoded training images, in standard deviations of the data along each"

    @property
    def basis_kind(self) -> str:
        """"axes", "pcs" or "attributes+pcs": what the sliders are."""
        return "pcs" if self.basis.explained is not None else "axes"

    @property
    def image_size(self) -> tuple[int, int]:
        return self.config.image_size, self.config.image_size

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    @abstractmethod
    def latent_dim(self) -> int: ...

    @abstractmethod
    def decode(self, z: np.ndarray, prompt: str = "") -> np.ndarray:
        """(N, D) or (D,) latents -> (N, H, W, C) uint8 images."""

    def check_latent(self, z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, np.float32))
        if z.shape[1] != self.latent_dim:
            from ..errors import StudioError

            raise StudioError(f"This {self.label} has a {self.latent_dim}-D latent; got a vector of "
                              f"{z.shape[1]} values.")
        return z

    def sample(self, request: GenerationRequest, *, want_noisy: bool = False) -> Iterator[Frame]:
        """One step: the request's latent, or the seed's draw from the prior (scaled by the
        truncation where the family offers it), through the decoder."""
        req = self.checked(request)
        if req.latent:
            z = np.asarray(req.latent, np.float32)[None]
        else:
            z = prior_latents(req.seed, req.batch_size, self.latent_dim)
            if "truncation" in self.controls:  # the truncation trick: typical images for less variety
                z = z * req.truncation
        yield Frame(1, 1, self.decode(z, req.prompt), final=True)

    def generate(self, request: GenerationRequest) -> np.ndarray:
        return next(iter(self.sample(request))).preview

    def generate_fn(self):
        """``generate(prompt, n, seed)`` for the evaluations: the images the studio shows for that
        prompt at seeds seed .. seed + n - 1 (no truncation)."""
        return lambda prompt, n, seed: self.decode(prior_latents(seed, n, self.latent_dim), prompt)
