"""Builds the VAE TrainTask for the shared trainer: dynamically binarised Fashion-MNIST (a fresh
Bernoulli draw of every pixel each time an image is seen, as in the IWAE paper), optionally with
caption embeddings for a conditional VAE."""
from __future__ import annotations

import numpy as np
import torch

from ...binary import binarized
from ...data import fashion_mnist
from ...data.batches import CaptionTable, captioned_batches, class_conditions
from ...errors import DatasetMissingError, StudioError
from ...latent_space.basis import LatentBasis
from ...latent_space.family import basis_tensors, prior_latents
from ...pixels import from_unit, to_unit
from ...prompt.encoder import PromptEncoder
from ...training.trainer import TrainTask
from .model import VAE, VAEConfig

AXES_UP_TO = 8  # latents up to this size get one slider per axis; larger ones get principal directions
MAX_DIRECTIONS = 16
MAP_POINTS = 2000


@torch.no_grad()
def encode_means(model: VAE, images: np.ndarray, cond: torch.Tensor | None, batch: int = 500) -> np.ndarray:
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(images), batch):
        c = None if cond is None else cond[s:s + batch].to(device)
        mu, _ = model.encode(to_unit(images[s:s + batch]).to(device), c)
        out.append(mu.float().cpu().numpy())
    return np.concatenate(out)


def latent_extras(model: VAE, basis_images: np.ndarray, basis_cond: torch.Tensor | None,
                  map_images: np.ndarray, map_labels: np.ndarray, map_cond: torch.Tensor | None) -> dict:
    """Tensors shipped beside the weights: the slider basis (principal directions of the encoded
    training images, for large latents) and the encoded images the latent map scatters."""
    was_training = model.training
    model.eval()
    out: dict[str, torch.Tensor] = {}
    if model.config.latent_dim > AXES_UP_TO:
        basis = LatentBasis.principal(encode_means(model, basis_images, basis_cond), MAX_DIRECTIONS)
        out.update(basis_tensors(basis))
    out["map.points"] = torch.from_numpy(encode_means(model, map_images, map_cond))
    out["map.labels"] = torch.from_numpy(np.asarray(map_labels, np.int64))
    model.train(was_training)
    return out


def fashion_mnist_task(encoder: PromptEncoder | None = None, *, latent_dim: int = 2, beta: float = 1.0,
                       captions: bool = False, batch_size: int = 128, data_dir: str | None = None,
                       limit: int | None = None, device: str = "cpu", seed: int = 0, p_uncond: float = 0.1,
                       hidden: tuple[int, int] = (32, 64), fc_dim: int = 256, command: str = "") -> TrainTask:
    if latent_dim < 1 or beta < 0:
        raise StudioError("The latent size must be at least 1 and the KL weight beta must not be negative.")
    split = fashion_mnist.load("train", data_dir, limit=limit)
    if captions and encoder is None:
        raise ValueError("a conditional VAE needs the prompt encoder")
    enc = encoder if captions else None
    cfg = VAEConfig(image_size=28, channels=1, latent_dim=latent_dim, hidden=tuple(hidden), fc_dim=fc_dim,
                    cond_dim=384 if captions else 0)
    try:  # the map shows where unseen images land; without the test split, use held-back train images
        test = fashion_mnist.load("test", data_dir, limit=MAP_POINTS)
        map_images, map_labels, source = test.images, test.labels, f"fashion-mnist test split (first {MAP_POINTS})"
    except DatasetMissingError:
        map_images, map_labels = split.images[-MAP_POINTS:], split.labels[-MAP_POINTS:]
        source = f"fashion-mnist train split (last {len(map_labels)})"
    config = {"vae": cfg.to_dict(), "likelihood": "bernoulli", "beta": beta, "dataset": "fashion-mnist",
              "binarization": "dynamic", "text_encoder": "all-MiniLM-L6-v2" if captions else None,
              "map": {"class_names": list(fashion_mnist.CLASSES), "source": source}}
    model = VAE(cfg)
    pixels = cfg.channels * cfg.image_size**2
    table = CaptionTable(fashion_mnist.all_captions(), encoder) if captions else None

    def loss(m: VAE, batch):
        x, cond = batch
        t = m.terms(x, cond)
        terms = {"nelbo": (t.reconstruction + t.kl).mean().detach(), "kl": t.kl.mean().detach(),
                 "recon": t.reconstruction.mean().detach()}
        return t.loss(beta) / pixels, terms  # per-pixel for the optimiser; nats per image for the log

    preview_z = torch.from_numpy(prior_latents(seed, 20, latent_dim))
    preview_cond = class_conditions(enc, np.repeat(np.arange(10), 2))

    @torch.no_grad()
    def samples(ema: VAE) -> np.ndarray:
        dev = next(ema.parameters()).device
        c = None if preview_cond is None else preview_cond.to(dev)
        return from_unit(ema.decode(preview_z.to(dev), c))

    idx = np.random.default_rng(seed).permutation(len(split.labels))[:10_000]
    finalize = lambda ema: latent_extras(ema, split.images[idx], class_conditions(enc, split.labels[idx]),  # noqa: E731
                                         map_images, map_labels, class_conditions(enc, map_labels))
    return TrainTask(
        family="vae", model=model, config=config, loss=loss,
        batches=binarized(captioned_batches(split.images, split.labels, table, batch_size, p_uncond=p_uncond,
                                            device=device, seed=seed), seed),
        samples=samples, finalize=finalize,
        card={"data": {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)),
                       "binarization": "dynamic (pixel intensity = Bernoulli probability)",
                       **({"captions": "templates x class synonyms", "p_uncond": p_uncond} if captions else {})},
              "objective": f"negative ELBO with beta={beta:g}, Bernoulli decoder, one-sample reparameterisation",
              "reproduce": command},
    )
