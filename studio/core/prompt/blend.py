"""Prompt blending: "a sneaker::0.7 | a sandal::0.3" mixes the two prompts' embeddings with those
weights. The syntax lives in the prompt text itself, so the request, its PNG, the gallery search and
the command line all carry the blend with nothing else to keep in step.

The sentence encoder's embeddings are unit vectors and the models were trained on unit vectors, so
the weighted mean is scaled back to unit length (a plain mean of two different prompts is shorter,
which the model would read as a weaker, partly unconditional prompt).
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from ..errors import RequestError

if TYPE_CHECKING:  # the request validates blends at start-up, before torch is loaded
    import torch

MAX_WEIGHT = 10.0
MAX_WEIGHT_CHARS = 16  # '0.333333333333333' is plenty; a longer number is refused before it is read
_NUMBER = re.compile(r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?")
_NUMBER_CHARS = frozenset("0123456789.+-eE")


def _split_weight(part: str, prompt: str) -> tuple[str, float]:
    """'text :: 0.7' -> ('text ', 0.7); a part whose last '::' is not followed by a number weighs 1.
    Linear in the part's length: only the text after the last '::' is read as a number."""
    text, sep, tail = part.rpartition("::")
    token = tail.strip()
    if not sep or not token or not set(token) <= _NUMBER_CHARS:
        return part, 1.0
    if len(token) > MAX_WEIGHT_CHARS:
        raise RequestError(f"A blend weight is a short number such as 0.7 (got one of {len(token)} characters "
                           f"in {_clip(prompt)}).")
    if not _NUMBER.fullmatch(token):
        return part, 1.0
    return text, float(token)


def _clip(prompt: str, limit: int = 80) -> str:
    return repr(prompt if len(prompt) <= limit else prompt[: limit - 3] + "...")


def parse_blend(prompt: str) -> list[tuple[str, float]]:
    """'a::0.7 | b::0.3' -> [('a', 0.7), ('b', 0.3)]; a part without '::w' weighs 1; a prompt
    without '|' is one part."""
    parts = prompt.split("|")
    out = []
    for part in parts:
        text, weight = _split_weight(part, prompt)
        text = " ".join(text.split())
        if len(parts) > 1 and not text:
            raise RequestError(f"Every part of a blended prompt needs words: {_clip(prompt)}.")
        if not (math.isfinite(weight) and 0.0 <= weight <= MAX_WEIGHT):
            raise RequestError(f"A blend weight must be between 0 and {MAX_WEIGHT:g} (got {weight:g} in {_clip(prompt)}).")
        out.append((text, weight))
    if len(out) > 1 and sum(w for _, w in out) <= 0:
        raise RequestError(f"The weights of a blended prompt must not all be 0: {_clip(prompt)}.")
    return out


def blend_text(a: str, b: str, t: float) -> str:
    """The prompt a fraction ``t`` of the way from ``a`` to ``b`` (0: a alone, 1: b alone)."""
    if t <= 0.0:
        return a
    if t >= 1.0:
        return b
    return f"{a}::{1 - t:.3g} | {b}::{t:.3g}"


def embed_prompts(encoder, prompts: list[str], tokens: bool = False) -> "torch.Tensor":
    """Like ``encoder.encode`` ((N, 384), '' -> zeros), but blended prompts are mixed. With ``tokens``
    the packed condition of a token-reading model (studio.core.prompt.packed): a
    blend's token sequence is its parts' sequences one after the other, each token weighted by its
    part's share of the largest weight (an attention-logit bias, as prompt weighting does it)."""
    import torch

    parsed = [parse_blend(p) for p in prompts]
    texts = sorted({t for parts in parsed for t, _ in parts})
    table = dict(zip(texts, encoder.encode(texts))) if texts else {}
    rows = []
    for parts in parsed:
        if len(parts) == 1:
            rows.append(table[parts[0][0]])
            continue
        mixed = sum(w * table[t] for t, w in parts) / sum(w for _, w in parts)
        rows.append(mixed / mixed.norm().clamp_min(1e-8))
    pooled = torch.stack(rows)
    if not tokens:
        return pooled
    from .packed import pack

    seqs = dict(zip(texts, encoder.encode_tokens(texts))) if texts else {}
    token_lists, weights = [], []
    for parts in parsed:
        top = max(w for _, w in parts)
        token_lists.append(torch.cat([seqs[t] for t, _ in parts]))
        weights.append(torch.cat([torch.full((len(seqs[t]),), w / top) for t, w in parts]))
    return pack(pooled, token_lists, weights)
