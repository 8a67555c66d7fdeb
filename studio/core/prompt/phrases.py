"""Prompt phrases: parsing a prompt into comma-separated phrases, the data sets' vocabulary, and the
user's recent and favourite phrases (kept as JSON in the user data folder).

No Qt here: the Prompt panel's chips and the Phrases dock present what this module computes.
"""
from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..atomic import atomic_write_text

log = logging.getLogger(__name__)

FILE_NAME = "phrases.json"
MAX_RECENT = 40
_VERSION = 1


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
            words = _unique(provider())
        except Exception as e:  # a broken data module must not take the prompt panel down with it
            log.warning("vocabulary section %s failed: %s", section, e)
            continue
        if words:
            out[section] = words
    return out


def _unique(phrases: Iterable[str]) -> list[str]:
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


# --- recent and favourite phrases -------------------------------------------------------------------
class PhraseStore:
    """Recent phrases (from prompts used for generation, most recent first, capped) and favourites.

    Every change is saved at once, atomically. A file that can't be read is set aside (never
    deleted: the favourites in it may be worth recovering by hand) and the store starts empty, with
    ``warning`` saying so.
    """

    def __init__(self, path: str | Path, max_recent: int = MAX_RECENT) -> None:
        self.path = Path(path)
        self.max_recent = max_recent
        self.warning: str | None = None
        self._recent: list[str] = []
        self._favourites: list[str] = []
        self._load()

    @classmethod
    def default(cls) -> "PhraseStore":
        from ...store.paths import user_data_dir

        return cls(user_data_dir() / FILE_NAME)

    @property
    def recent(self) -> list[str]:
        return list(self._recent)

    @property
    def favourites(self) -> list[str]:
        return list(self._favourites)

    def record_prompt(self, prompt: str) -> None:
        """A prompt was used: its phrases go to the front of the recent list, in prompt order."""
        phrases = split_phrases(prompt)
        if not phrases:
            return
        self._recent = _unique(phrases + self._recent)[: self.max_recent]
        self._save()

    def clear_recent(self) -> None:
        self._recent = []
        self._save()

    def is_favourite(self, phrase: str) -> bool:
        key = clean(phrase).casefold()
        return any(f.casefold() == key for f in self._favourites)

    def add_favourite(self, phrase: str) -> bool:
        phrase = clean(phrase)
        if not phrase or self.is_favourite(phrase):
            return False
        self._favourites.append(phrase)
        self._save()
        return True

    def remove_favourite(self, phrase: str) -> bool:
        key = clean(phrase).casefold()
        kept = [f for f in self._favourites if f.casefold() != key]
        if len(kept) == len(self._favourites):
            return False
        self._favourites = kept
        self._save()
        return True

    def toggle_favourite(self, phrase: str) -> bool:
        """Star or unstar; returns whether the phrase is now a favourite."""
        if self.is_favourite(phrase):
            self.remove_favourite(phrase)
            return False
        return self.add_favourite(phrase)

    def completions(self) -> list[str]:
        """Every phrase worth offering while typing: favourites, recent, then the vocabulary."""
        return _unique(self._favourites + self._recent + [w for ws in vocabulary().values() for w in ws])

    # --- file -------------------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            recent, favourites = data.get("recent", []), data.get("favourites", [])
            if not isinstance(recent, list) or not isinstance(favourites, list):
                raise ValueError("'recent' and 'favourites' must be lists")
        except (OSError, UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
            aside = self.path.with_name(f"{self.path.stem}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}.json")
            try:
                self.path.replace(aside)
                kept = f"it was kept as {aside.name}"
            except OSError:
                kept = "it will be replaced on the next change"
            self.warning = f"The phrase library {self.path.name} could not be read ({e}); {kept} and it starts empty."
            log.warning(self.warning)
            return
        self._recent = _unique(p for p in recent if isinstance(p, str))[: self.max_recent]
        self._favourites = _unique(p for p in favourites if isinstance(p, str))

    def _save(self) -> None:
        data = {"version": _VERSION, "recent": self._recent, "favourites": self._favourites}
        try:
            atomic_write_text(self.path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        except OSError as e:  # a full disk must not lose the prompt being written: keep going in memory
            self.warning = f"The phrase library could not be saved to {self.path} ({e})."
            log.warning(self.warning)
