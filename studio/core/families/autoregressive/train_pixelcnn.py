"""Builds the Gated PixelCNN TrainTask on Fashion-MNIST, optionally with caption embeddings for a
prompt-conditioned model. With 2 levels it sees the images dynamically binarised (as the VAE does, so
their likelihoods compare); with more it sees their raw grey levels (256: the 8-bit pixels themselves,
fewer: each quantised to the nearest level), through a softmax or a logistic-mixture head."""
from __future__ import annotations

import numpy as np
import torch

from ...binary import binarized
from ...data import fashion_mnist
from ...data.batches import CaptionTable, captioned_batches, class_conditions
from ...prompt.encoder import PromptEncoder
from ...training.trainer import TrainTask
from .pixelcnn import GatedPixelCNN, PixelCNNConfig, levels_to_uint8
from .sampling import Sampling, pixelcnn_rows

LN2 = float(np.log(2))


def signed_to_levels(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Batches in [-1, 1] (uint8 / 127.5 - 1) -> long levels 0 .. levels - 1, each pixel's nearest."""
    return ((x + 1) * 127.5).round().mul((levels - 1) / 255).round().long()


def _head_text(cfg: PixelCNNConfig) -> str:
    if cfg.output == "softmax":
        return f"a {cfg.levels}-way softmax per pixel"
    return f"a discretised mixture of {cfg.mixtures} logistics per pixel (PixelCNN++)"


def pixelcnn_task(encoder: PromptEncoder | None = None, *, captions: bool = True, channels: int = 32,
                  layers: int = 7, head: int = 64, levels: int = 2, output: str = "softmax", mixtures: int = 10,
                  batch_size: int = 64, data_dir: str | None = None, limit: int | None = None, device: str = "cpu",
                  seed: int = 0, p_uncond: float = 0.1, command: str = "") -> TrainTask:
    if captions and encoder is None:
        raise ValueError("a prompt-conditioned PixelCNN needs the prompt encoder")
    split = fashion_mnist.load("train", data_dir, limit=limit)
    enc = encoder if captions else None
    cfg = PixelCNNConfig(image_size=28, levels=levels, channels=channels, layers=layers, head=head,
                         cond_dim=384 if captions else 0, output=output, mixtures=mixtures)
    binary = levels == 2
    pixels = {"binarization": "dynamic"} if binary else {"pixels": "grey", "binarization": "none"}
    config = {"arch": "pixelcnn", "pixelcnn": cfg.to_dict(), "dataset": "fashion-mnist", **pixels,
              "text_encoder": "all-MiniLM-L6-v2" if captions else None}
    model = GatedPixelCNN(cfg)
    dims = cfg.image_size**2
    table = CaptionTable(fashion_mnist.all_captions(), encoder) if captions else None

    def loss(m: GatedPixelCNN, batch):
        x, cond = batch
        x = x.long() if binary else signed_to_levels(x, levels)
        nll = m.nll(x, cond)
        return nll.mean() / dims, {"nll": nll.mean().detach(), "bits_per_dim": nll.mean().detach() / (dims * LN2)}

    preview_cond = class_conditions(enc, np.repeat(np.arange(10), 2))

    def samples(ema: GatedPixelCNN) -> np.ndarray:
        c = None if preview_cond is None else preview_cond.to(next(ema.parameters()).device)
        for _, x in pixelcnn_rows(ema, 20, seed, Sampling(), c):
            pass
        return levels_to_uint8(x, levels)

    batches = captioned_batches(split.images, split.labels, table, batch_size, p_uncond=p_uncond, device=device,
                                seed=seed)
    if binary:
        data = {"binarization": "dynamic (pixel intensity = Bernoulli probability)"}
        objective = "exact negative log-likelihood of the binarised image, pixel by pixel in raster order"
    else:
        kept = "the raw 8-bit grey levels, no binarisation" if levels == 256 else \
            f"grey levels quantised to {levels}, no binarisation"
        data = {"pixels": kept}
        objective = (f"exact negative log-likelihood of the grey image ({levels} levels), pixel by pixel in raster "
                     f"order, {_head_text(cfg)}")
    return TrainTask(
        family="autoregressive", model=model, config=config, loss=loss,
        batches=binarized(batches, seed) if binary else batches,
        samples=samples,
        card={"data": {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)), **data,
                       **({"captions": "templates x class synonyms", "p_uncond": p_uncond} if captions else {})},
              "objective": objective, "reproduce": command},
    )
