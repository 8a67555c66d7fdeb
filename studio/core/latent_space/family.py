"""What the families with a latent vector (VAE, GAN) share: the prior's seeded draws, and the slider
basis and latent-map points a checkpoint ships beside its weights."""
from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .. import checkpoint as ckpt_io
from ..errors import StudioError
from ..events import Frame
from ..families.base import EvalSetup, Family, ImageFormat
from ..request import GenerationRequest, image_generators
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
    """The prior's draws for seeds seed .. seed + n - 1 (one stream per image, as in every family)."""
    return np.stack([torch.randn(dim, generator=g).numpy() for g in image_generators(seed, n)]).astype(np.float32)


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
    image_size and channels), ``_basis`` and ``_latent_map``, and implement ``latent_dim`` and ``decode``."""

    # Where principal-direction sliders come from, said in the latent panel's tooltip.
    pcs_source = "the encoded training images, in standard deviations of the data along each"
    image_kind = "grey"
    eval_sampler = "prior -> decoder"  # how the evaluations' samples are made, for the card

    _basis: LatentBasis
    _latent_map: LatentMap | None = None

    @property
    def basis(self) -> LatentBasis:
        return self._basis

    @property
    def latent_map(self) -> LatentMap | None:
        return self._latent_map

    @property
    def basis_kind(self) -> str:
        """"axes", "pcs" or "attributes+pcs": what the sliders are."""
        return "pcs" if self.basis.explained is not None else "axes"

    @property
    def image_format(self) -> ImageFormat:
        c = self.config
        return ImageFormat(c.image_size, c.image_size, c.channels, "rgb" if c.channels == 3 else self.image_kind)

    @property
    @abstractmethod
    def latent_dim(self) -> int: ...

    @abstractmethod
    def decode(self, z: np.ndarray, prompt: str = "") -> np.ndarray:
        """(N, D) or (D,) latents -> (N, H, W, C) uint8 images."""

    def prior_latents(self, seed: int, n: int, truncation: float = 1.0) -> np.ndarray:
        """The seeds' draws from the prior, scaled by the truncation where the family offers it (the
        truncation trick: typical images for less variety)."""
        z = prior_latents(seed, n, self.latent_dim)
        return z * truncation if "truncation" in self.controls else z

    def eval_setup(self, *, steps: int = 50, sampler: str = "", guidance: float = 3.0) -> EvalSetup:
        return EvalSetup(self.default_request(), {"sampler": self.eval_sampler})

    def check_latent(self, z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, np.float32))
        if z.shape[1] != self.latent_dim:
            raise StudioError(f"This {self.label} has a {self.latent_dim}-D latent; got a vector of "
                              f"{z.shape[1]} values.")
        return z

    def frames(self, request: GenerationRequest, init: np.ndarray | None, want_noisy: bool) -> Iterator[Frame]:
        """One step: the request's latent, or the seed's draw from the prior, through the decoder."""
        if request.latent:
            z = np.asarray(request.latent, np.float32)[None]
        else:
            z = self.prior_latents(request.seed, request.batch_size, request.truncation)
        yield Frame(1, 1, self.decode(z, request.prompt), final=True)
