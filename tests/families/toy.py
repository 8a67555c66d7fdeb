"""A toy generator family defined entirely in the tests, to show that a family added from outside
the studio package (one ``register_family`` entry and one ``register``ed Family) gets everything a
built-in family gets: the registry, ``load_model``, the CLI, the evaluations and the contract tests.

It draws an 8x8 grey pattern: a seeded 3-D latent through a fixed linear map and a sigmoid, revealed
over ``steps`` frames (frame k shows k/steps of the final brightness). It declares one capability,
``decode``; everything else is refused with the catalog's messages by the base class.

The toy is in the catalog only while ``registered()`` is active (the ``tiny_toy`` fixture), so the
rest of the suite sees the catalog as the studio ships it."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from studio.core.catalog import CATALOG, FamilyInfo, register_family
from studio.core.errors import CheckpointError, StudioError
from studio.core.events import Frame
from studio.core.families.base import FAMILIES, Family, ImageFormat, register
from studio.core.request import GenerationRequest

NAME = "toy"
SIZE = 8
LATENT_DIM = 3

TOY = FamilyInfo(
    NAME, "Toy",
    frozenset({"steps", "seed", "batch", "latent"}),
    (),
    "A seeded 3-D vector through a fixed linear map: an 8x8 grey pattern, revealed over the steps.",
    frozenset({"decode"}), "tests.families.toy", "step",
)

# What ``genstudio train`` and the Training dock would offer for it (studio.core.training.recipes):
# nothing; the toy is not trainable.
RECIPES = ()


@contextmanager
def _in_catalog():
    """The catalog entry alone, restored afterwards (a Family subclass reads its entry when defined)."""
    before = CATALOG.get(NAME)
    register_family(TOY)
    try:
        yield
    finally:
        if before is None:
            CATALOG.pop(NAME, None)
        else:
            CATALOG[NAME] = before


with _in_catalog():
    class ToyFamily(Family):
        name = NAME

        def __init__(self, checkpoint, device: str = "cpu", **_ignored) -> None:
            super().__init__(checkpoint, device)
            cfg = checkpoint.config.get("toy", {})
            try:
                self.size, self.dim = int(cfg["size"]), int(cfg["latent_dim"])
                self.weights = checkpoint.tensors["toy.weights"].numpy().astype(np.float32)
                self.bias = checkpoint.tensors["toy.bias"].numpy().astype(np.float32)
            except (KeyError, TypeError, ValueError) as e:
                raise CheckpointError(f"{checkpoint.path.name} is not a valid toy checkpoint ({e}).") from e
            if self.weights.shape != (self.dim, self.size * self.size) or self.bias.shape != (self.size ** 2,):
                raise CheckpointError(f"{checkpoint.path.name}: toy weights of the wrong shape.")

        @property
        def image_format(self) -> ImageFormat:
            return ImageFormat(self.size, self.size, 1, "grey")

        @property
        def latent_dim(self) -> int:
            return self.dim

        def prior_latents(self, seed: int, n: int, truncation: float = 1.0) -> np.ndarray:
            # One generator per image: image i of a batch with seed s is image 0 of seed s + i.
            return np.stack([np.random.default_rng(seed + i).standard_normal(self.dim) for i in range(n)]
                            ).astype(np.float32)

        def decode(self, z: np.ndarray, prompt: str = "") -> np.ndarray:
            z = np.atleast_2d(np.asarray(z, np.float32))
            if z.ndim != 2 or z.shape[1] != self.dim:
                raise StudioError(f"The toy has a {self.dim}-D latent; got {tuple(np.shape(z))}.")
            x = 1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias)))
            return np.round(x * 255).astype(np.uint8).reshape(len(z), self.size, self.size, 1)

        def frames(self, request: GenerationRequest, init: np.ndarray | None, want_noisy: bool) -> Iterator[Frame]:
            if request.latent:
                z = np.asarray(request.latent, np.float32)[None]
            else:
                z = self.prior_latents(request.seed, request.batch_size)
            final = self.decode(z).astype(np.int64)
            steps = request.steps
            for k in range(1, steps + 1):
                yield Frame(k, steps, (final * k // steps).astype(np.uint8), final=k == steps)


@contextmanager
def registered():
    """The toy family in the catalog and among the Family classes for the duration, as a plugin
    registers itself; both as they were afterwards."""
    before = CATALOG.get(NAME), FAMILIES.get(NAME)
    register_family(TOY)
    register(ToyFamily)
    try:
        yield
    finally:
        for table, old in zip((CATALOG, FAMILIES), before):
            if old is None:
                table.pop(NAME, None)
            else:
                table[NAME] = old


def make_toy_checkpoint(path: Path, *, seed: int = 0) -> Path:
    """A toy checkpoint: the linear map's weights, in the studio's checkpoint format."""
    import torch

    from studio.core import checkpoint

    g = torch.Generator().manual_seed(seed)
    tensors = {"toy.weights": torch.randn(LATENT_DIM, SIZE * SIZE, generator=g),
               "toy.bias": 0.5 * torch.randn(SIZE * SIZE, generator=g)}
    config = {"toy": {"size": SIZE, "latent_dim": LATENT_DIM}, "dataset": "toy"}
    return checkpoint.save(path, family=NAME, config=config, tensors=tensors,
                           card={"id": path.stem, "family": NAME, "data": {"dataset": "toy"}})
