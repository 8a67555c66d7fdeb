"""TrainTasks for the image transformer's two stages: the VQ-VAE tokenizer on Fashion-MNIST (binarised
for a Bernoulli decoder, the raw 8-bit grey levels for a logistic one), then the transformer over the
frozen tokenizer's codes of the same kind of images, with captions. The transformer's checkpoint
carries a copy of the tokenizer, so it is one self-contained file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...binary import binarized
from ...data import fashion_mnist
from ...data.batches import CaptionTable, captioned_batches, class_conditions
from ...errors import CheckpointError, StudioError
from ...pixels import from_unit, to_unit
from ...prompt.encoder import PromptEncoder
from ...training.stream import Mapped, resumable
from ...training.trainer import TrainTask
from .sampling import Sampling, transformer_rows
from .transformer import ImageTransformer, TransformerConfig
from .vqvae import VQVAE, VQVAEConfig

TOKENIZER_FAMILY = "vqvae"  # not a generator family: the registry never lists it


def _unit(batch):
    x, cond = batch
    return (x + 1) / 2, cond


def _image_batches(split, table, batch_size: int, p_uncond: float, device: str, seed: int, grey: bool):
    """Batches of images in [0, 1]: grey levels / 255 (exactly: x * 255 rounds back to the uint8), or
    fresh binarisations of them."""
    batches = captioned_batches(split.images, split.labels, table, batch_size, p_uncond=p_uncond, device=device,
                                seed=seed)
    return Mapped(resumable(batches), _unit) if grey else binarized(batches, seed)


def _pixels(cfg: VQVAEConfig) -> tuple[dict, dict]:
    """What a checkpoint's config and its card's data say about the pixels its models see."""
    if cfg.grey:
        return {"pixels": "grey", "binarization": "none"}, {"pixels": "the raw 8-bit grey levels, no binarisation"}
    return {"binarization": "dynamic"}, {"binarization": "dynamic"}


def vqvae_task(*, codes: int = 128, code_dim: int = 32, hidden: int = 64, likelihood: str = "bernoulli",
               downsample: int = 4, mixtures: int = 1, batch_size: int = 128, data_dir: str | None = None,
               limit: int | None = None, device: str = "cpu", seed: int = 0, command: str = "") -> TrainTask:
    split = fashion_mnist.load("train", data_dir, limit=limit)
    try:
        cfg = VQVAEConfig(codes=codes, code_dim=code_dim, hidden=hidden, likelihood=likelihood,
                          downsample=downsample, mixtures=mixtures)
    except ValueError as e:
        raise StudioError(f"Invalid VQ-VAE settings: {e}.") from e
    pixels, data = _pixels(cfg)
    config = {"vqvae": cfg.to_dict(), "dataset": "fashion-mnist", **pixels, "likelihood": cfg.likelihood}
    shown = to_unit(split.images[:10])

    @torch.no_grad()
    def samples(ema: VQVAE) -> np.ndarray:  # top: originals, bottom: their reconstructions from codes
        x = shown.to(next(ema.parameters()).device)
        return np.concatenate([from_unit(x), from_unit(ema.decode_unit(ema.encode(x)))])

    decoder = (f"discretised logistic ({mixtures} component{'s' * (mixtures > 1)} per pixel) over the 256 grey "
               "levels" if cfg.grey else "Bernoulli")
    return TrainTask(
        family=TOKENIZER_FAMILY, model=VQVAE(cfg), config=config, loss=lambda m, batch: m(batch[0]),
        batches=_image_batches(split, None, batch_size, 0.0, device, seed, cfg.grey), samples=samples,
        card={"data": {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)), **data},
              "objective": f"{decoder} reconstruction + codebook + commitment (straight-through), dead codes "
                           f"restarted; {cfg.grid}x{cfg.grid} codes of {cfg.codes}",
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
                     dim: int = 192, layers: int = 4, heads: int = 4, prefix: int = 4, grey: bool | None = None,
                     batch_size: int = 128, data_dir: str | None = None, limit: int | None = None,
                     device: str = "cpu", seed: int = 0, p_uncond: float = 0.1, command: str = "") -> TrainTask:
    """``grey``: None takes the images as the tokenizer does (grey for a logistic decoder, binarised for
    a Bernoulli one); True or False (a recipe's) insists on that kind of tokenizer."""
    if captions and encoder is None:
        raise ValueError("a prompt-conditioned transformer needs the prompt encoder")
    vq, vq_ck = load_tokenizer(tokenizer, device)
    if grey is not None and grey != vq.config.grey:
        kind = "grey (logistic)" if vq.config.grey else "binary (Bernoulli)"
        raise StudioError(f"{Path(tokenizer).name} is a {kind} tokenizer; this recipe needs a "
                          f"{'grey' if grey else 'binary'} one (genstudio train vqvae --recipe "
                          f"{'vqvae-fmnist-grey' if grey else 'vqvae-fmnist'}).")
    pixels, data = _pixels(vq.config)
    split = fashion_mnist.load("train", data_dir, limit=limit)
    enc = encoder if captions else None
    cfg = TransformerConfig(vocab=vq.config.codes, grid=vq.config.grid, dim=dim, layers=layers, heads=heads,
                            prefix=prefix, cond_dim=384 if captions else 0)
    config = {"arch": "transformer", "transformer": cfg.to_dict(), "vqvae": vq.config.to_dict(),
              "tokenizer": {"id": vq_ck.id, "sha256": vq_ck.sha256}, "dataset": "fashion-mnist",
              **pixels, "text_encoder": "all-MiniLM-L6-v2" if captions else None}
    table = CaptionTable(fashion_mnist.all_captions(), encoder) if captions else None

    def tokenize(batch):
        x, cond = batch
        return vq.encode(x).flatten(1), cond

    # The frozen tokenizer is deterministic: the stream resumes where its images do.
    tokenized = Mapped(_image_batches(split, table, batch_size, p_uncond, device, seed, vq.config.grey), tokenize)

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
        return from_unit(vq.decode_unit(codes))

    return TrainTask(
        family="autoregressive", model=ImageTransformer(cfg), config=config, loss=loss, batches=tokenized,
        samples=samples, finalize=lambda ema: {f"vq.{k}": v.detach().cpu() for k, v in vq.state_dict().items()},
        card={"data": {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)),
                       **data, "tokens": f"{cfg.grid}x{cfg.grid} codes of {vq_ck.id} ({cfg.vocab} in its "
                       f"codebook; {'grey tokenizer: a logistic' if vq.config.grey else 'a Bernoulli'} decoder)",
                       **({"captions": "templates x class synonyms", "p_uncond": p_uncond} if captions else {})},
              "objective": "negative log-likelihood of the code sequence in raster order, prompt as a prefix",
              "reproduce": command})
