"""Test-set likelihood of an autoregressive checkpoint on Fashion-MNIST's test split. Binary models see
it binarised once with a fixed seed exactly as the VAE's evaluation does, so the nats compare across
families; grey models (a grey PixelCNN, a transformer over a grey tokenizer) see the raw test images
(quantised to a PixelCNN's levels, if fewer than 256), so their bits/dim over the 784 pixels compare
with published grey-level results.

* PixelCNN: the exact -log p(x), summed over pixels.
* Transformer over VQ-VAE codes: -log p(codes(x)) - log p(x | codes(x)), an upper bound on -log p(x)
  (the ELBO with the encoder's one-hot choice as posterior, whose entropy is zero); both parts are
  reported, since the decoder's share shows how much the codes leave to chance. A grey tokenizer's
  decoder scores each raw 8-bit level with its discretised logistic mixture.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ...binary import binarize
from ...data import fashion_mnist
from ...errors import StudioError
from ...events import Progress
from .pixelcnn import quantize


@torch.no_grad()
def likelihood(family, data_dir: str | None = None, *, limit: int | None = None, seed: int = 0, batch: int = 100,
               progress: Progress | None = None) -> dict:
    """``family``: a loaded AutoregressiveFamily. Conditional models are scored given each image's class prompt."""
    from ...data.batches import class_conditions

    if family.image_size != (28, 28):
        raise StudioError(f"{family.checkpoint.id} makes {family.image_size[0]}px images; its likelihood can only "
                          "be measured on data of that size, not on Fashion-MNIST.")
    test = fashion_mnist.load("test", data_dir, limit=limit)
    x_all = quantize(test.images, family.levels) if family.grey else binarize(test.images, seed)
    cond_all = class_conditions(family.encoder, test.labels) if family.conditional else None
    report = progress or (lambda stage, done, total: None)
    device, n = family.device, len(x_all)
    t0 = time.perf_counter()
    nll, codes_nll, recon = [], [], []
    for s in range(0, n, batch):
        x = x_all[s:s + batch].to(device)
        cond = None if cond_all is None else cond_all[s:s + batch].to(device)
        if family.arch == "pixelcnn":
            nll.append(family.model.nll(x.long(), cond).cpu())
        else:
            unit = x.float() / (family.levels - 1)  # binary pixels, or grey levels / 255
            codes = family.tokenizer.encode(unit)
            c_nll = family.model.nll(codes.flatten(1), cond)
            r = family.tokenizer.nll(unit, codes)
            codes_nll.append(c_nll.cpu())
            recon.append(r.cpu())
            nll.append((c_nll + r).cpu())
        report("likelihood", min(n, s + batch), n)
    total = float(torch.cat(nll).mean())
    dims = int(np.prod(x_all.shape[1:]))
    out = {
        "test_nll_nats": total,
        "test_nll_bits_per_dim": total / (dims * np.log(2)),
        "exact": family.arch == "pixelcnn",
        "settings": {"test_images": n, **_pixels(family, seed), "seed": seed,
                     "condition": "class prompt of each image" if family.conditional else "none",
                     "arch": family.arch},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if family.arch == "transformer":
        out["bound"] = "upper bound: -log p(codes) - log p(x | codes), codes = the VQ-VAE encoder's choice"
        out["codes_nll_nats"] = float(torch.cat(codes_nll).mean())
        out["codes_bits_per_code"] = out["codes_nll_nats"] / (family.model.config.length * np.log(2))
        out["decoder_nll_nats"] = float(torch.cat(recon).mean())
    return out


def _pixels(family, seed: int) -> dict:
    """What the test images were scored as."""
    if not family.grey:
        return {"binarization": f"stochastic, seed {seed}"}
    levels = family.levels
    return {"binarization": "none",
            "pixels": "raw 8-bit grey levels" if levels == 256 else f"grey, quantised to {levels} levels"}
