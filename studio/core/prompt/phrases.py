"""Prompt phrases: parsing a prompt into comma-separated phrases, the data sets' vocabulary, and the
user's recent and favourite phrases (kept as JSON in the user data folder).

No Qt here: the Prompt panel's chips and the Phrases dock present what this module computes.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)



# --- parsing ----------------------------------------------------------------------------------------
def clean(phrase: str) -> str:
    """One phrase as it is shown and stored: single spaces, no commas (a comma starts a new phrase)."""
    return " ".join(phrase.replace(",", " ").split())


def split_phrases(text: str) -> list[str]:
    """'a bag ,  red,, on a table' -> ['a bag', 'red', 'on a table']; empty phrases are dropped."""
    return [p for p in (" ".join(part.split()) for part in text.split(",")) if p]


def join_phrases(phrases: Iterable[str]) -> str:
    return ", ".join(p for p in (clean(p) for p in phrases) if p)


def phrase_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each non-empty phrase of ``text``, whitespace trimmed, in
    the order split_phrases lists them: maps a chip back to the text it came from."""
    spans, start = [], 0
    for part in text.split(","):
        stripped = part.strip()
        if stripped:
            lead = len(part) - len(part.lstrip())
            spans.append((start + lead, start + lead + len(stripped)))
        start += len(part) + 1
    return spans


def insertion_index(text: str, offset: int) -> int:
    """Where a phrase dropped at character ``offset`` goes: before every phrase whose middle lies
    after the offset, so a drop never splits a phrase and lands on the nearer side of it."""
    return sum(1 for a, b in phrase_spans(text) if (a + b) / 2 < offset)


def current_phrase(text: str, cursor: int) -> tuple[int, str]:
    """The phrase being typed at ``cursor``: (start offset, text from there to the cursor), where
    start is just after the last comma before the cursor and its following spaces."""
    start = text.rfind(",", 0, cursor) + 1
    while start < cursor and text[start].isspace():
        start += 1
    return start, text[start:cursor]


def move_phrase(phrases: list[str], src: int, dst: int) -> list[str]:
    """Move phrase ``src`` to insertion point ``dst`` (an index into the list *before* the move)."""
    out = list(phrases)
    if not 0 <= src < len(out):
        return out
    item = out.pop(src)
    out.insert(dst - 1 if dst > src else dst, item)
    return out


def insert_phrases(phrases: list[str], index: int, new: Iterable[str]) -> list[str]:
    index = max(0, min(index, len(phrases)))
    return list(phrases[:index]) + [p for p in (clean(n) for n in new) if p] + list(phrases[index:])


# --- vocabulary ---------------------------------------------------------------------------------------
_PROVIDERS: dict[str, Callable[[], Iterable[str]]] = {}


def register_vocabulary(section: str, provider: Callable[[], Iterable[str]]) -> None:
    """Add (or replace) a vocabulary section. Providers run lazily, when vocabulary() is asked, so a
    data set module is only imported once someone looks at its words."""
    _PROVIDERS[section] = provider


def vocabulary() -> dict[str, list[str]]:
    """Section title -> phrases the models were trained on; sections with no phrases are left out."""
    out = {}
    for section, provider in _PROVIDERS.items():
        try:
            words = unique(provider())
        except Exception as e:  # a broken data module must not take the prompt panel down with it
            log.warning("vocabulary section %s failed: %s", section, e)
            continue
        if words:
            out[section] = words
    return out


def unique(phrases: Iterable[str]) -> list[str]:
    seen, out = set(), []
    for p in phrases:
        p = clean(p)
        if p and p.casefold() not in seen:
            seen.add(p.casefold())
            out.append(p)
    return out


def _fashion_mnist() -> list[str]:
    from ..data.fashion_mnist import CLASSES, SYNONYMS

    return [s for syns in SYNONYMS for s in syns] + [c.lower() for c in CLASSES]


def _faces() -> list[str]:
    from ..data.faces import HAIR_NAMES

    # The wording of faces.caption(), so the phrases match what the captions taught the model.
    return (["a smiling face", "a frowning face", "a neutral face", "smiling", "frowning",
             "with glasses", "glasses", "closed eyes", "a large head", "a small head"]
            + [f"{h} hair" for h in HAIR_NAMES])


def module_phrases(module: str, attribute: str = "PHRASES") -> Callable[[], list[str]]:
    """A provider reading ``studio.core.data.<module>.<attribute>`` if that module exists: the hook
    for data sets still to come (a Shapes set lists its colours and shapes as PHRASES)."""
    def provider() -> list[str]:
        try:
            mod = importlib.import_module(f"studio.core.data.{module}")
        except ModuleNotFoundError:
            return []
        return list(getattr(mod, attribute, ()))
    return provider


register_vocabulary("Fashion-MNIST", _fashion_mnist)
register_vocabulary("Faces", _faces)
register_vocabulary("Shapes", module_phrases("shapes"))
