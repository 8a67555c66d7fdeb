"""Frechet distance between Gaussians fitted to feature sets (the formula behind FID, Heusel et al. 2017).

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2})

The matrix square root uses symmetric eigendecompositions only (real and stable, unlike a general sqrtm):
(S1 S2)^{1/2} has the same trace as (A S2 A)^{1/2} with A = S1^{1/2}, and A S2 A is symmetric PSD.
"""
from __future__ import annotations

import numpy as np


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> mean (D,) and unbiased covariance (D, D), in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need at least two feature vectors of shape (N, D), got {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix; round-off negatives are clipped to zero."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Frechet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}")
    root1 = _sqrt_psd(s1)
    inner = root1 @ s2 @ root1
    w = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(w, 0.0, None)).sum())
    diff = mu1 - mu2
    d = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    # The true value is >= 0; a tiny negative is round-off when the two Gaussians coincide.
    return max(d, 0.0)


def frechet_distance_features(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between the Gaussians fitted to two (N, D) feature sets."""
    return frechet_distance(*feature_stats(a), *feature_stats(b))


def _knn_radii(feats: np.ndarray, k: int) -> np.ndarray:
    """Distance from each vector to its k-th nearest neighbour in the same set (itself excluded)."""
    d = _pairwise(feats, feats)
    return np.partition(d, k, axis=1)[:, k]  # column 0 is the vector itself (distance 0)


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(sq, 0.0, None))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019): each set's manifold is the union of
    balls reaching every vector's k-th nearest neighbour. Precision: the share of generated vectors
    inside the real manifold (are samples realistic?); recall: the share of real vectors inside the
    generated manifold (is the data's variety covered?). Compare sets of equal size."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"need (N, D) feature sets of one width, got {real.shape} and {fake.shape}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"need more than k={k} vectors in each set")
    cross = _pairwise(fake, real)  # (F, R)
    precision = float((cross <= _knn_radii(real, k)[None, :]).any(axis=1).mean())
    recall = float((cross.T <= _knn_radii(fake, k)[None, :]).any(axis=1).mean())
    return precision, recall
