"""Builds the Gated PixelCNN TrainTask: dynamically binarised Fashion-MNIST (as the VAE sees it, so
their likelihoods compare), optionally with caption embeddings for a prompt-conditioned model."""
from __future__ import annotations

import numpy as np

from ...binary import binarized, binary_to_uint8
from ...data import fashion_mnist
from ...data.batches import CaptionTable, captioned_batches, class_conditions
from ...prompt.encoder import PromptEncoder
from ...training.trainer import TrainTask
from .pixelcnn import GatedPixelCNN, PixelCNNConfig
from .sampling import Sampling, pixelcnn_rows

LN2 = float(np.log(2))


def pixelcnn_task(encoder: PromptEncoder | None = None, *, captions: bool = True, channels: int = 32,
                  layers: int = 7, head: int = 64, batch_size: int = 64, data_dir: str | None = None,
                  limit: int | None = None, device: str = "cpu", seed: int = 0, p_uncond: float = 0.1,
                  command: str = "") -> TrainTask:
    if captions and encoder is None:
        raise ValueError("a prompt-conditioned PixelCNN needs the prompt encoder")
    split = fashion_mnist.load("train", data_dir, limit=limit)
    enc = encoder if captions else None
    cfg = PixelCNNConfig(image_size=28, levels=2, channels=channels, layers=layers, head=head,
                         cond_dim=384 if captions else 0)
    config = {"arch": "pixelcnn", "pixelcnn": cfg.to_dict(), "dataset": "fashion-mnist", "binarization": "dynamic",
              "text_encoder": "all-MiniLM-L6-v2" if captions else None}
    model = GatedPixelCNN(cfg)
    dims = cfg.image_size**2
    table = CaptionTable(fashion_mnist.all_captions(), encoder) if captions else None

    def loss(m: GatedPixelCNN, batch):
        x, cond = batch
        nll = m.nll(x.long(), cond)
        return nll.mean() / dims, {"nll": nll.mean().detach(), "bits_per_dim": nll.mean().detach() / (dims * LN2)}

    preview_cond = class_conditions(enc, np.repeat(np.arange(10), 2))

    def samples(ema: GatedPixelCNN) -> np.ndarray:
        c = None if preview_cond is None else preview_cond.to(next(ema.parameters()).device)
        for _, x in pixelcnn_rows(ema, 20, seed, Sampling(), c):
            pass
        return binary_to_uint8(x)

    return TrainTask(
        family="autoregressive", model=model, config=config, loss=loss,
        batches=binarized(captioned_batches(split.images, split.labels, table, batch_size, p_uncond=p_uncond,
                                            device=device, seed=seed), seed),
        samples=samples,
        card={"data": {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)),
                       "binarization": "dynamic (pixel intensity = Bernoulli probability)",
                       **({"captions": "templates x class synonyms", "p_uncond": p_uncond} if captions else {})},
              "objective": "exact negative log-likelihood of the binarised image, pixel by pixel in raster order",
              "reproduce": command},
    )
