"""The TrainTask for latent diffusion's autoencoder (studio.core.families.diffusion.autoencoder).

It is a component, not a generator: its checkpoint is of family "autoencoder" (no CATALOG family,
like the VQ-VAE tokenizer's "vqvae"), so no generator list offers it; a latent diffusion trainer reads
it (``genstudio train diffusion --data fashion-mnist-latent --autoencoder FILE``) and embeds a copy.
The shipped file holds the EMA weights (``ema.*``) and, from ``finalize``, the latent scale and the
linear preview map (``autoencoder.*``).
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ...data import fashion_mnist
from ...data.batches import captioned_batches
from ...errors import StudioError
from ...pixels import from_signed, to_signed
from ...training.stream import check_same
from ...training.trainer import TrainTask
from .autoencoder import (
    AutoencoderConfig,
    KLAutoencoder,
    autoencoder_loss,
    encode_means,
    fit_linear_preview,
    latent_scale,
    linear_preview,
)

KIND = "autoencoder"
FAMILY = "autoencoder"  # not a CATALOG family: listed under its own name, never offered as a generator
PREVIEW_IMAGES = 10  # originals over their reconstructions in the training previews


class ShapeImages:
    """Freshly rendered Shapes scenes (x in [-1, 1], None), without captions: batch b holds scenes
    b*B.. of data set ``seed``, so the stream resumes by its batch index alone."""

    def __init__(self, batch_size: int, seed: int, device: str) -> None:
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.batch = 0  # the batch taken next
        self._scenes: Iterator | None = None

    def __iter__(self) -> "ShapeImages":
        return self

    def __next__(self) -> tuple[torch.Tensor, None]:
        from ...data.shapes import shapes_batches

        if self._scenes is None:
            self._scenes = shapes_batches(self.batch_size, self.seed, first=self.batch)
        images, _ = next(self._scenes)
        self.batch += 1
        return to_signed(images).to(self.device), None

    def state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        return {"kind": "shape-images", "batch_size": self.batch_size, "seed": self.seed, "batch": self.batch}, {}

    def restore(self, info: dict, tensors: dict[str, torch.Tensor]) -> None:
        check_same("Shapes", info, kind="shape-images", batch_size=self.batch_size, seed=self.seed)
        self.batch, self._scenes = int(info["batch"]), None


def _data(dataset: str, batch_size: int, data_dir: str | None, limit: int | None, device: str, seed: int,
          stats_images: int) -> tuple[Iterator, np.ndarray, dict]:
    """(batches, images finalize measures the latents on, the card's data entry)."""
    if dataset == "fashion-mnist":
        split = fashion_mnist.load("train", data_dir, limit=limit)
        batches = captioned_batches(split.images, split.labels, None, batch_size, device=device, seed=seed)
        return batches, split.images[:stats_images], {"dataset": "fashion-mnist", "split": "train",
                                                      "images": int(len(split.images))}
    if dataset == "shapes":
        from ...data.shapes import shapes_batches

        # Scenes of another seed than training's, so the latent statistics are measured on unseen images.
        stats, _ = next(shapes_batches(stats_images, seed + 1))
        return ShapeImages(batch_size, seed, device), stats, {
            "dataset": "shapes (procedural, studio.core.data.shapes)", "split": f"rendered afresh per batch, seed {seed}"}
    raise StudioError(f"Unknown data set {dataset!r}; the autoencoder trainer knows: fashion-mnist, shapes.")


def autoencoder_task(*, dataset: str = "fashion-mnist", base_channels: int = 32, latent_channels: int = 4,
                     batch_size: int = 128, data_dir: str | None = None, limit: int | None = None,
                     device: str = "cpu", seed: int = 0, command: str = "", kl_weight: float = 1e-6,
                     stats_images: int = 1024) -> TrainTask:
    """Train the autoencoder on Fashion-MNIST (1x28x28 -> 4x7x7) or Shapes (3x32x32 -> 4x8x8).
    ``stats_images``: how many images ``finalize`` encodes to measure the scale and fit the preview map."""
    batches, stats, data = _data(dataset, batch_size, data_dir, limit, device, seed, stats_images)
    size, channels = (28, 1) if dataset == "fashion-mnist" else (32, 3)
    cfg = AutoencoderConfig(in_channels=channels, image_size=size, latent_channels=latent_channels,
                            base_channels=base_channels, kl_weight=kl_weight)
    config = {"kind": KIND, "autoencoder": cfg.to_dict(), "dataset": dataset}
    stats_x = to_signed(stats)
    shown = stats_x[:PREVIEW_IMAGES]
    card = {"data": data,
            "objective": f"L1 reconstruction + {kl_weight:g} x KL to N(0, I), per image (no GAN or perceptual "
                         "loss)",
            "reproduce": command}

    def loss(m: KLAutoencoder, batch):
        return autoencoder_loss(m, batch[0])

    @torch.no_grad()
    def samples(ema: KLAutoencoder) -> np.ndarray:  # top: originals, bottom: decoded posterior means
        mean = encode_means(ema, shown)
        recon = ema.eval().decode(mean.to(next(ema.parameters()).device))
        return np.concatenate([from_signed(shown), from_signed(recon)])

    @torch.no_grad()
    def finalize(ema: KLAutoencoder) -> dict[str, torch.Tensor]:
        means = encode_means(ema.eval(), stats_x)
        scale = latent_scale(means)
        weight, bias = fit_linear_preview(means * scale, stats_x)  # the preview reads scaled latents
        recon = torch.cat([ema.decode(means[i:i + 256].to(next(ema.parameters()).device)).float().cpu()
                           for i in range(0, len(means), 256)])
        preview = linear_preview(means * scale, weight, bias, cfg.image_size)
        card["latents"] = {
            "shape": list(cfg.latent_shape), "scale": round(float(scale), 6),
            "measured_on": f"{len(stats_x)} images ({data['dataset']})",
            "reconstruction_l1": round(float((recon - stats_x).abs().mean()), 5),  # [-1, 1] pixel units
            "preview_r2": round(float(1 - (preview - stats_x).pow(2).sum() / (stats_x - stats_x.mean()).pow(2).sum()), 4)}
        return {"autoencoder.scale": scale, "autoencoder.preview_weight": weight, "autoencoder.preview_bias": bias}

    return TrainTask(family=FAMILY, model=KLAutoencoder(cfg), config=config, loss=loss, batches=batches,
                     samples=samples, finalize=finalize, card=card)
