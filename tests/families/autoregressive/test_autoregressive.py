"""The autoregressive core: causal masks and attention, cached sampling equal to the naive loop, the
sampling filters, completion from a prefix, and tiny models that learn."""
from __future__ import annotations

import pytest
import torch

from studio.core.families.autoregressive.pixelcnn import GatedPixelCNN, MaskedConv2d, PixelCNNConfig, causal_mask
from studio.core.families.autoregressive.sampling import Sampling, draw, filtered_probs, pixelcnn_rows, transformer_rows
from studio.core.families.autoregressive.transformer import ImageTransformer, TransformerConfig
from studio.core.training.trainer import TrainConfig, Trainer, TrainTask


def tiny_pixelcnn(size: int = 10, cond_dim: int = 6, levels: int = 2) -> GatedPixelCNN:
    torch.manual_seed(0)
    return GatedPixelCNN(PixelCNNConfig(image_size=size, levels=levels, channels=8, layers=3, head=8,
                                        first_kernel=5, cond_dim=cond_dim)).eval()


def tiny_transformer(cond_dim: int = 6) -> ImageTransformer:
    torch.manual_seed(0)
    return ImageTransformer(TransformerConfig(vocab=12, grid=4, dim=16, layers=2, heads=2, prefix=2,
                                              cond_dim=cond_dim)).eval()


def flipped(x: torch.Tensor, k: int, levels: int = 2) -> torch.Tensor:
    y = x.clone()
    y.view(len(y), -1)[:, k] = (y.view(len(y), -1)[:, k] + 1) % levels
    return y


# --- causality -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["A", "B"])
def test_masked_convolution_sees_only_earlier_pixels(kind):
    torch.manual_seed(0)
    conv = MaskedConv2d(1, 1, (5, 5), kind)
    with torch.no_grad():
        conv.weight.uniform_(0.5, 1.5)  # no weight near zero: every unmasked input shows
    x = torch.randn(1, 1, 7, 7)
    base = conv(x).flatten()
    for k in range(49):
        y = x.clone()
        y.view(-1)[k] += 1.0
        changed = (conv(y).flatten() - base).abs() > 1e-6
        assert not changed[:k].any(), f"mask {kind}: pixel {k} reached an earlier output"
        assert bool(changed[k]) == (kind == "B"), "only mask B sees the current pixel"
        assert changed[k + 1:k + 3].any() if k + 3 <= 49 and (k % 7) < 5 else True


def test_vertical_masks_see_only_rows_above():
    assert causal_mask(3, 3, "V_A").tolist() == [[1, 1, 1], [0, 0, 0], [0, 0, 0]]
    assert causal_mask(3, 3, "V_B").tolist() == [[1, 1, 1], [1, 1, 1], [0, 0, 0]]
    assert causal_mask(1, 5, "A").tolist() == [[1, 1, 0, 0, 0]]
    with pytest.raises(ValueError):
        causal_mask(3, 3, "C")


def test_gated_pixelcnn_is_causal_and_has_no_blind_spot():
    model = tiny_pixelcnn()
    cond = torch.randn(2, 6)
    x = torch.randint(0, 2, (2, 1, 10, 10))
    with torch.no_grad():
        base = model(x, cond).flatten(2)
        sees = torch.zeros(100, 100, dtype=torch.bool)  # sees[j, k]: the logits of pixel j moved with pixel k
        for k in range(100):
            sees[:, k] = (model(flipped(x, k), cond).flatten(2) - base).abs().amax(dim=(0, 1)) > 1e-6
    assert not sees.triu().any(), "a pixel's logits depend on itself or a later pixel"
    j = 5 * 10 + 4  # row 5, column 4: the rows above to its right are the original PixelCNN's blind spot
    for r, c in [(4, 5), (4, 7), (3, 8), (5, 3), (5, 0), (2, 4)]:
        assert sees[j, r * 10 + c], f"pixel (5, 4) does not see ({r}, {c})"


def test_transformer_is_causal():
    model = tiny_transformer()
    cond = torch.randn(2, 6)
    codes = torch.randint(0, 12, (2, 16))
    with torch.no_grad():
        base = model(codes, cond)
        for k in range(16):
            moved = (model(flipped(codes, k, 12), cond) - base).abs().amax(dim=(0, 2)) > 1e-6
            assert not moved[:k + 1].any(), f"code {k} changed the prediction of a code at or before it"
            assert moved[k + 1:].all(), f"a later code ignores code {k}"


def test_prompt_changes_the_predictions():
    model = tiny_transformer()
    codes = torch.randint(0, 12, (1, 16))
    with torch.no_grad():
        assert not torch.allclose(model(codes, torch.randn(1, 6)), model(codes, torch.randn(1, 6)))


# --- cached sampling ---------------------------------------------------------------------------------------

def test_pixelcnn_cached_logits_equal_the_full_network():
    model = tiny_pixelcnn()
    c = model.config
    cond = torch.randn(3, 6)
    x = torch.randint(0, 2, (3, 1, 10, 10))
    conds = model.cond_terms(cond)
    with torch.no_grad():
        full = model(x, cond)
        for r in range(10):
            top = max(0, r - c.reach)
            from_v = [t[:, :, -1:] for t in model.vertical(x[:, :, top:r + 1], conds)]
            for col in range(10):
                left = max(0, col - c.reach)
                part = model.horizontal(x[:, :, r:r + 1, left:col + 1], [t[..., left:col + 1] for t in from_v], conds)
                torch.testing.assert_close(part[:, :, 0, -1], full[:, :, r, col], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("sampling", [Sampling(), Sampling(temperature=0.8, top_p=0.9), Sampling(temperature=0.0)])
def test_pixelcnn_cached_and_naive_sampling_make_the_same_images(sampling):
    model = tiny_pixelcnn()
    cond = torch.randn(3, 6)
    runs = []
    for cached in (True, False):
        rows = []
        for r, x in pixelcnn_rows(model, 3, 11, sampling, cond, cached=cached):
            rows.append(r)
        assert rows == list(range(1, 11)), "one yield per row"
        runs.append(x.clone())
    assert torch.equal(runs[0], runs[1])
    if sampling.temperature > 0:
        assert 0 < runs[0].float().mean() < 1, "an untrained model draws both values"


@pytest.mark.parametrize("sampling", [Sampling(), Sampling(temperature=1.3, top_k=4)])
def test_transformer_kv_cache_and_naive_sampling_make_the_same_codes(sampling):
    model = tiny_transformer()
    cond = torch.randn(2, 6)
    runs = []
    for cached in (True, False):
        out = list(transformer_rows(model, 2, 4, sampling, cond, cached=cached))
        assert [r for r, _ in out] == [1, 2, 3, 4]
        runs.append(out[-1][1].clone())
    assert torch.equal(runs[0], runs[1])
    assert len(runs[0].unique()) > 3


def test_kv_cache_step_equals_the_full_sequence():
    model = tiny_transformer()
    cond = torch.randn(2, 6)
    codes = torch.randint(0, 12, (2, 16))
    with torch.no_grad():
        full = model(codes, cond)
        logits, cache = model.step(model.start(cond, 2), 0, None)
        steps = [logits[:, -1]]
        for i in range(15):
            logits, cache = model.step(model.tokens(codes[:, i:i + 1]), model.config.prefix + i, cache)
            steps.append(logits[:, -1])
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)


def test_image_i_of_a_batch_is_image_0_of_seed_plus_i():
    model = tiny_pixelcnn()
    cond = torch.randn(1, 6)
    *_, (_, batch) = pixelcnn_rows(model, 3, 20, Sampling(), cond.expand(3, -1))
    *_, (_, single) = pixelcnn_rows(model, 1, 22, Sampling(), cond)
    assert torch.equal(batch[2], single[0])


def test_completing_an_images_own_prefix_with_its_seed_gives_it_back():
    model = tiny_pixelcnn()
    cond = torch.randn(2, 6)
    *_, (_, x) = pixelcnn_rows(model, 2, 5, Sampling(), cond)
    *_, (_, again) = pixelcnn_rows(model, 2, 5, Sampling(), cond, prefix=x, start=37)
    assert torch.equal(again, x)
    other = x.clone()
    other.view(2, -1)[:, :37] = 1 - other.view(2, -1)[:, :37]
    *_, (_, done) = pixelcnn_rows(model, 2, 5, Sampling(), cond, prefix=other, start=37)
    assert torch.equal(done.view(2, -1)[:, :37], other.view(2, -1)[:, :37]), "the prefix is kept"


# --- the filters --------------------------------------------------------------------------------------------

def test_temperature_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    torch.testing.assert_close(filtered_probs(logits, Sampling()), torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert filtered_probs(logits, Sampling(temperature=0.0)).tolist() == [[1.0, 0.0, 0.0, 0.0]]
    cold = filtered_probs(logits, Sampling(temperature=0.5))[0]
    assert cold[0] > 0.5 and cold[3] < 0.05, "a low temperature sharpens the distribution"
    torch.testing.assert_close(filtered_probs(logits, Sampling(top_k=2)), torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    # top-p 0.7: 0.5 alone is not enough, 0.5 + 0.3 is: the nucleus is the first two values.
    torch.testing.assert_close(filtered_probs(logits, Sampling(top_p=0.7)), torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    torch.testing.assert_close(filtered_probs(logits, Sampling(top_p=0.4)), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))


def test_draw_is_the_inverse_cdf():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.2])).expand(5, 3)
    u = torch.tensor([0.0, 0.49, 0.51, 0.85, 0.999999])
    assert draw(logits, u, Sampling()).tolist() == [0, 0, 1, 2, 2]
    assert draw(logits, u, Sampling(top_k=1)).tolist() == [0] * 5
    zero_last = torch.log(torch.tensor([0.5, 0.5, 1e-30])).expand(1, 3)
    assert draw(zero_last, torch.tensor([0.9999999]), Sampling()).tolist() == [1], "never a value of no probability"


def test_draw_frequencies_follow_the_distribution():
    g = torch.Generator().manual_seed(0)
    logits = torch.log(torch.tensor([0.6, 0.3, 0.1])).expand(20_000, 3)
    counts = torch.bincount(draw(logits, torch.rand(20_000, generator=g), Sampling()), minlength=3) / 20_000
    torch.testing.assert_close(counts, torch.tensor([0.6, 0.3, 0.1]), atol=0.015, rtol=0)


# --- learning -------------------------------------------------------------------------------------------------

def striped_images(n: int, size: int = 10) -> torch.Tensor:
    """Binary images of vertical stripes with a random phase: predictable from the first row."""
    phase = torch.randint(0, 3, (n, 1, 1, 1))
    cols = torch.arange(size).view(1, 1, 1, size)
    return ((cols + phase) % 3 == 0).long().expand(n, 1, size, size).clone()


def endless(batch):
    while True:
        yield batch


def train(model, loss, batch, steps: int, tmp_path) -> list[float]:
    task = TrainTask(family="autoregressive", model=model, config={"arch": "test"}, loss=loss, batches=endless(batch))
    cfg = TrainConfig(steps=steps, lr=3e-3, warmup=5, log_every=5, precision="fp32", sample_every=10**6,
                      checkpoint_every=10**6)
    return [ev.metrics["nll"] for ev in Trainer(task, cfg, tmp_path / "m.safetensors").run() if ev.kind == "step"]


def test_tiny_pixelcnn_lowers_its_loss(tmp_path):
    model = tiny_pixelcnn(cond_dim=0).train()
    x = striped_images(32)

    def loss(m, batch):
        nll = m.nll(batch)
        return nll.mean() / 100, {"nll": nll.mean().detach()}

    history = train(model, loss, x, 60, tmp_path)
    assert history[0] > 50 and history[-1] < 0.4 * history[0], history


def test_tiny_transformer_lowers_its_loss(tmp_path):
    model = tiny_transformer(cond_dim=0).train()
    start = torch.randint(0, 12, (32, 1))
    codes = (start + torch.arange(16)) % 12  # each code is the one before plus one

    def loss(m, batch):
        nll = m.nll(batch)
        return nll.mean() / 16, {"nll": nll.mean().detach()}

    history = train(model, loss, codes, 60, tmp_path)
    assert history[0] > 30 and history[-1] < 0.3 * history[0], history
