"""The cached PixelCNN sampler (every layer run at one row per row and one column per pixel): its
logits are the full network's, and it draws the naive loop's images for binary and grey (softmax and
logistic) models, with a prompt, completing a prefix and with redraws."""
from __future__ import annotations

import pytest
import torch

from studio.core.families.autoregressive.pixelcnn import GatedPixelCNN, PixelCNNConfig
from studio.core.families.autoregressive.sampling import CachedPixelCNN, Sampling, pixelcnn_rows

KINDS = {
    "binary": dict(image_size=10, levels=2, layers=3, first_kernel=5),
    "softmax": dict(image_size=8, levels=256, layers=2, first_kernel=5),
    "logistic": dict(image_size=8, levels=256, layers=2, first_kernel=5, kernel=5, output="logistic", mixtures=3),
}


@pytest.fixture(autouse=True)
def one_thread_here(one_thread):
    yield


def model_of(kind: str) -> GatedPixelCNN:
    torch.manual_seed(0)
    return GatedPixelCNN(PixelCNNConfig(channels=8, head=16, cond_dim=6, **KINDS[kind])).eval()


def every_row(model, *args, **kw) -> list[torch.Tensor]:
    return [x.clone() for _, x in pixelcnn_rows(model, *args, **kw)]


@pytest.mark.parametrize("kind", KINDS)
def test_cached_logits_are_the_full_networks(kind):
    model = model_of(kind)
    c = model.config
    x = torch.randint(0, c.levels, (3, 1, c.image_size, c.image_size))
    conds = model.cond_terms(torch.randn(3, 6))
    with torch.inference_mode():
        full = model.logits(model.features(x, model.vertical(x, conds), conds))
        cache = CachedPixelCNN(model, 3, conds)
        for r in range(c.image_size):
            cache.start_row(x, r)
            for col in range(c.image_size):
                logits = model.logits(cache.features(col))[:, :, 0, 0]
                torch.testing.assert_close(logits, full[:, :, r, col], atol=2e-4, rtol=1e-5)
                cache.drawn(col, x[:, 0, r, col])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampling", [Sampling(), Sampling(temperature=0.8, top_p=0.9), Sampling(top_k=5),
                                      Sampling(temperature=0.0)], ids=["plain", "top-p", "top-k", "greedy"])
def test_cached_and_naive_draw_the_same_images_row_by_row(kind, sampling):
    model = model_of(kind)
    cond = torch.randn(3, 6)
    cached = every_row(model, 3, 11, sampling, cond)
    naive = every_row(model, 3, 11, sampling, cond, cached=False)
    assert len(cached) == model.config.image_size, "one yield per row"
    for r, (a, b) in enumerate(zip(cached, naive)):
        assert torch.equal(a, b), f"row {r} differs"
    if sampling.temperature > 0:
        assert len(cached[-1].unique()) > 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("start", [0, 3, 20, 24, 37, 64])
def test_completing_a_prefix_with_redraws_matches_the_naive_loop(kind, start):
    model = model_of(kind)
    c = model.config
    cond = torch.randn(2, 6)
    prefix = torch.randint(0, c.levels, (2, 1, c.image_size, c.image_size))
    redraws = ((start + 5, 123), (start + 9, 7))
    cached = every_row(model, 2, 4, Sampling(), cond, prefix=prefix, start=start, redraws=redraws)[-1]
    naive = every_row(model, 2, 4, Sampling(), cond, prefix=prefix, start=start, redraws=redraws, cached=False)[-1]
    assert torch.equal(cached, naive)
    assert torch.equal(cached.view(2, -1)[:, :start], prefix.view(2, -1)[:, :start]), "the prefix is kept"
    plain = every_row(model, 2, 4, Sampling(), cond, prefix=prefix, start=start)[-1].view(2, -1)
    changed = cached.view(2, -1)
    assert torch.equal(changed[:, :start + 5], plain[:, :start + 5]), "a redraw keeps what comes before it"
    if start + 9 < c.image_size ** 2:
        assert not torch.equal(changed, plain)


def test_a_whole_prefix_is_given_back_untouched():
    model = model_of("softmax")
    prefix = torch.randint(0, 256, (2, 1, 8, 8))
    assert torch.equal(every_row(model, 2, 1, Sampling(), torch.randn(2, 6), prefix=prefix, start=64)[-1], prefix)
