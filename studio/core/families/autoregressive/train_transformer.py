"""TrainTasks for the image transformer's two stages: the VQ-VAE tokenizer on binarised Fashion-MNIST,
then the transformer over the frozen tokenizer's codes of the same binarised images, with captions.
The transformer's checkpoint carries a copy of the tokenizer, so it is one self-contained file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...binary import binarized
from ...data import fashion_mnist
from ...data.batches import CaptionTable, captioned_batches, class_conditions
from ...errors import CheckpointError
from ...pixels import from_unit, to_unit
from ...prompt.encoder import PromptEncoder
from ...training.stream import Mapped
from ...training.trainer import TrainTask
from .sampling import Sampling, transformer_rows
from .transformer import ImageTransformer, TransformerConfig
from .vqvae import VQVAE, VQVAEConfig

TOKENIZER_FAMILY = "vqvae"  # not a generator family: the registry never lists it


def _binary_batches(split, table, batch_size: int, p_uncond: float, device: str, seed: int):
    return binarized(captioned_batches(split.images, split.labels, table, batch_size, p_uncond=p_uncond,
                                       device=device, seed=seed), seed)


def vqvae_task(*, codes: int = 128, code_dim: int = 32, hidden: int = 64, batch_size: int = 128,
               data_dir: str | None = None, limit: int | None = None, device: str = "cpu", seed: int = 0,
               command: str = "") -> TrainTask:
    split = fashion_mnist.load("train", data_dir, limit=limit)
    cfg = VQVAEConfig(codes=codes, code_dim=code_dim, hidden=hidden)
    config = {"vqvae": cfg.to_dict(), "dataset": "fashion-mnist", "binarization": "dynamic", "likelihood": "bernoulli"}
    shown = to_unit(split.images[:10])

    @torch.no_grad()
    def samples(ema: VQVAE) -> np.ndarray:  # top: originals, bottom: their reconstructions from codes
        x = shown.to(next(ema.parameters()).device)
        return np.concatenate([from_unit(x), from_unit(torch.sigmoid(ema.decode_logits(ema.encode(x))))])

    return TrainTask(
        family=TOKENIZER_FAMILY, model=VQVAE(cfg), config=config, loss=lambda m, batch: m(batch[0]),
        batches=_binary_batches(split, None, batch_size, 0.0, device, seed), samples=samples,
        card={"data": {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)),
                       "binarization": "dynamic"},
              "objective": "Bernoulli reconstruction + codebook + commitment (straight-through), dead codes restarted",
              "reproduce": command})


def load_tokenizer(path: str | Path, device: str = "cpu") -> tuple[VQVAE, ckpt_io.Checkpoint]:
    ck = ckpt_io.load(path, family=TOKENIZER_FAMILY)
    try:
        vq = VQVAE(VQVAEConfig.from_dict(ck.config.get("vqvae", {})))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{Path(path).name} has an invalid VQ-VAE config: {e}") from e
    ckpt_io.load_state(vq, ck.group("ema") or ck.group("model"), Path(path).name)
    return vq.to(device).eval().requires_grad_(False), ck


def transformer_task(tokenizer: str, encoder: PromptEncoder | None = None, *, captions: bool = True,
                     dim: int = 192, layers: int = 4, heads: int = 4, prefix: int = 4, batch_size: int = 128,
                     data_dir: str | None = None, limit: int | None = None, device: str = "cpu", seed: int = 0,
                     p_uncond: float = 0.1, command: str = "") -> TrainTask:
    if captions and encoder is None:
        raise ValueError("a prompt-conditioned transformer needs the prompt encoder")
    vq, vq_ck = load_tokenizer(tokenizer, device)
    split = fashion_mnist.load("train", data_dir, limit=limit)
    enc = encoder if captions else None
    cfg = TransformerConfig(vocab=vq.config.codes, grid=vq.config.grid, dim=dim, layers=layers, heads=heads,
                            prefix=prefix, cond_dim=384 if captions else 0)
    config = {"arch": "transformer", "transformer": cfg.to_dict(), "vqvae": vq.config.to_dict(),
              "tokenizer": {"id": vq_ck.id, "sha256": vq_ck.sha256}, "dataset": "fashion-mnist",
              "binarization": "dynamic", "text_encoder": "all-MiniLM-L6-v2" if captions else None}
    table = CaptionTable(fashion_mnist.all_captions(), encoder) if captions else None

    def tokenize(batch):
        x, cond = batch
        return vq.encode(x).flatten(1), cond

    # The frozen tokenizer is deterministic: the stream resumes where its binarised images do.
    tokenized = Mapped(_binary_batches(split, table, batch_size, p_uncond, device, seed), tokenize)

    def loss(m: ImageTransformer, batch):
        codes, cond = batch
        nll = m.nll(codes, cond)
        return nll.mean() / cfg.length, {"nll_codes": nll.mean().detach()}

    preview_cond = class_conditions(enc, np.repeat(np.arange(10), 2))

    @torch.no_grad()
    def samples(ema: ImageTransformer) -> np.ndarray:
        c = None if preview_cond is None else preview_cond.to(device)
        for _, codes in transformer_rows(ema, 20, seed, Sampling(), c):
            pass
        return from_unit(torch.sigmoid(vq.decode_logits(codes)))

    return TrainTask(
        family="autoregressive", model=ImageTransformer(cfg), config=config, loss=loss, batches=tokenized,
        samples=samples, finalize=lambda ema: {f"vq.{k}": v.detach().cpu() for k, v in vq.state_dict().items()},
        card={"data": {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)),
                       "binarization": "dynamic", "tokens": f"{cfg.grid}x{cfg.grid} codes of {vq_ck.id} "
                       f"({cfg.vocab} in its codebook)",
                       **({"captions": "templates x class synonyms", "p_uncond": p_uncond} if captions else {})},
              "objective": "negative log-likelihood of the code sequence in raster order, prompt as a prefix",
              "reproduce": command})
