"""Frechet distance: the properties a distance between Gaussians must have, and the closed forms."""
import numpy as np
import pytest

from studio.core.evaluation.metrics import feature_stats, frechet_distance, frechet_distance_features, precision_recall


def _random_gaussian(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T / d + 0.1 * np.eye(d)


def test_distance_to_itself_is_zero():
    mu, sigma = _random_gaussian(np.random.default_rng(0), 32)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_matches_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    m1, m2 = rng.normal(size=8), rng.normal(size=8)
    v1, v2 = rng.uniform(0.1, 3, size=8), rng.uniform(0.1, 3, size=8)
    # Diagonal covariances commute: d^2 = |m1 - m2|^2 + sum (sqrt(v1) - sqrt(v2))^2.
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(expected, rel=1e-9)


def test_one_dimensional_case():
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)


def test_symmetric():
    rng = np.random.default_rng(2)
    (m1, s1), (m2, s2) = _random_gaussian(rng, 16), _random_gaussian(rng, 16)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(frechet_distance(m2, s2, m1, s1), rel=1e-9)


def test_grows_with_mean_shift():
    mu, sigma = _random_gaussian(np.random.default_rng(3), 16)
    direction = np.ones(16) / 4.0  # unit length
    ds = [frechet_distance(mu, sigma, mu + t * direction, sigma) for t in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert all(a < b for a, b in zip(ds, ds[1:]))
    assert ds[-1] == pytest.approx(16.0, rel=1e-6)  # same covariance: exactly the squared shift


def test_singular_covariances_stay_finite_and_non_negative():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 10))  # rank 3 in 10 dimensions
    mu, sigma = feature_stats(x)
    d = frechet_distance(mu, sigma, mu, sigma)
    assert np.isfinite(d) and 0.0 <= d < 1e-6


def test_feature_stats_and_sample_distance():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(4000, 4)), rng.normal(size=(4000, 4))
    mu, sigma = feature_stats(a)
    np.testing.assert_allclose(mu, a.mean(0))
    np.testing.assert_allclose(sigma, np.cov(a, rowvar=False))
    assert frechet_distance_features(a, b) < 0.02
    assert frechet_distance_features(a, b + 1.0) == pytest.approx(4.0, abs=0.1)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError):
        feature_stats(np.zeros((1, 5)))


def test_precision_recall_of_a_sample_of_the_same_distribution_is_high():
    rng = np.random.default_rng(0)
    p, r = precision_recall(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)))
    assert p > 0.8 and r > 0.8


def test_precision_recall_of_a_collapsed_generator():
    """All samples near one real point: realistic (precision high) but no variety (recall low)."""
    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 4))
    fake = real[0] + 0.01 * rng.normal(size=(300, 4))
    p, r = precision_recall(real, fake)
    assert p == 1.0 and r < 0.1


def test_precision_recall_of_disjoint_sets_is_zero():
    rng = np.random.default_rng(2)
    p, r = precision_recall(rng.normal(size=(100, 3)), 100.0 + rng.normal(size=(100, 3)))
    assert (p, r) == (0.0, 0.0)


def test_precision_recall_refuses_mismatched_or_tiny_sets():
    with pytest.raises(ValueError):
        precision_recall(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError):
        precision_recall(np.zeros((3, 3)), np.zeros((10, 3)))
