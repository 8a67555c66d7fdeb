"""Test-set likelihood of a VAE checkpoint: the ELBO, the importance-weighted NLL estimate
(Burda et al. 2016, k samples) and the reconstruction error, on Fashion-MNIST's test split
binarised once with a fixed seed (so every evaluation sees the same binary images)."""
from __future__ import annotations

import time

import numpy as np
import torch

from ...binary import binarize
from ...data import fashion_mnist
from ...errors import StudioError
from ...events import Progress
from ...pixels import to_unit


@torch.no_grad()
def likelihood(family, data_dir: str | None = None, *, k: int = 100, limit: int | None = None, seed: int = 0,
               batch: int = 50, progress: Progress | None = None) -> dict:
    """ELBO, IWAE-k NLL (nats per image and bits per dimension) and reconstruction error.

    ``family`` is a loaded VAEFamily; a conditional model is scored given each image's class prompt."""
    from ...data.batches import class_conditions

    if k < 1:
        raise StudioError("k must be at least 1.")
    if family.image_format.shape != (28, 28, 1):
        raise StudioError(f"{family.checkpoint.id} makes {family.image_format.describe()} images; "
                          "its likelihood can only be measured on data of that shape, not on Fashion-MNIST.")
    model, device = family.model, family.device
    test = fashion_mnist.load("test", data_dir, limit=limit)
    x_bin = binarize(test.images, seed)
    x_gray = to_unit(test.images)
    cond = class_conditions(family.encoder, test.labels) if family.conditional else None
    g = torch.Generator(device=device).manual_seed(seed)
    report = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()
    elbo, iwae, recon_bce, mse, means = [], [], [], [], []
    n = len(x_bin)
    for s in range(0, n, batch):
        xb = x_bin[s:s + batch].to(device)
        cb = None if cond is None else cond[s:s + batch].to(device)
        t = model.terms(xb, cb, generator=g)
        elbo.append(-(t.reconstruction + t.kl))
        iwae.append(model.iwae_log_likelihood(xb, cb, k=k, generator=g))
        mu, _ = model.encode(xb, cb)
        means.append(mu.float().cpu())
        logits = model.decode_logits(mu, cb)
        recon_bce.append(torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), xb, reduction="none").flatten(1).sum(1))
        mse.append((torch.sigmoid(logits.float()).cpu() - x_gray[s:s + batch]).pow(2).flatten(1).mean(1))
        report("likelihood", min(n, s + batch), n)
    elbo_t, iwae_t = torch.cat(elbo).cpu(), torch.cat(iwae).cpu()
    dims = int(np.prod(x_bin.shape[1:]))
    nll = float(-iwae_t.mean())
    # Active units (Burda et al. 2016): latent dimensions whose posterior mean varies with the input.
    activity = torch.cat(means).var(dim=0)
    return {
        "active_units": int((activity > 0.01).sum()),
        "latent_dim": int(activity.numel()),
        "test_elbo_nats": float(elbo_t.mean()),
        "test_nll_iwae_nats": nll,
        "test_nll_iwae_bits_per_dim": nll / (dims * np.log(2)),
        "iwae_k": k,
        "reconstruction_bce_nats": float(torch.cat(recon_bce).mean()),
        "reconstruction_mse": float(torch.cat(mse).mean()),
        "settings": {"test_images": n, "binarization": f"stochastic, seed {seed}", "seed": seed,
                     "condition": "class prompt of each image" if family.conditional else "none",
                     "reconstruction": "decoder mean of the posterior mean; MSE against the gray image in [0, 1]"},
        "seconds": round(time.perf_counter() - t0, 1),
    }
