"""The user's phrases, kept in ``phrases.json`` in the user data folder: recent ones (from prompts
used for generation) and favourites. The vocabulary and the phrase editing they feed are in
studio.core.prompt.phrases."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ..core.atomic import atomic_write_text
from ..core.prompt.phrases import clean, split_phrases, unique, vocabulary
from .paths import clean_stale_tmp, user_data_dir

log = logging.getLogger(__name__)

FILE_NAME = "phrases.json"
_VERSION = 1
MAX_RECENT = 40


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
        return cls(user_data_dir() / FILE_NAME)

    @property
    def recent(self) -> list[str]:
        return list(self._recent)

    @property
    def favourites(self) -> list[str]:
        return list(self._favourites)

    def record_prompt(self, prompt: str) -> None:
        """A prompt was used: its phrases go to the front of the recent list, in prompt order."""
        phrases = [p for p in split_phrases(prompt) if _storable(p)]
        if not phrases:
            return
        self._recent = unique(phrases + self._recent)[: self.max_recent]
        self._save()

    def clear_recent(self) -> None:
        self._recent = []
        self._save()

    def is_favourite(self, phrase: str) -> bool:
        key = clean(phrase).casefold()
        return any(f.casefold() == key for f in self._favourites)

    def add_favourite(self, phrase: str) -> bool:
        phrase = clean(phrase)
        if not phrase or not _storable(phrase) or self.is_favourite(phrase):
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
        return unique(self._favourites + self._recent + [w for ws in vocabulary().values() for w in ws])

    # --- file -------------------------------------------------------------------------------------
    def _load(self) -> None:
        clean_stale_tmp(self.path.parent)  # a save cut short by a crash
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            recent, favourites = data.get("recent", []), data.get("favourites", [])
            if not isinstance(recent, list) or not isinstance(favourites, list):
                raise ValueError("'recent' and 'favourites' must be lists")
        except (OSError, ValueError, RecursionError) as e:  # JSON and UTF-8 errors are ValueErrors
            aside = self.path.with_name(f"{self.path.stem}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}.json")
            try:
                self.path.replace(aside)
                kept = f"it was kept as {aside.name}"
            except OSError:
                kept = "it will be replaced on the next change"
            self.warning = f"The phrase library {self.path.name} could not be read ({e}); {kept} and it starts empty."
            log.warning(self.warning)
            return
        self._recent = unique(p for p in recent if _storable(p))[: self.max_recent]
        self._favourites = unique(p for p in favourites if _storable(p))

    def _save(self) -> None:
        data = {"version": _VERSION, "recent": self._recent, "favourites": self._favourites}
        try:
            atomic_write_text(self.path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        except OSError as e:  # a full disk must not lose the prompt being written: keep going in memory
            self.warning = f"The phrase library could not be saved to {self.path} ({e})."
            log.warning(self.warning)


def _storable(phrase: object) -> bool:
    """Text that can be saved again (JSON allows lone surrogates, UTF-8 does not)."""
    if not isinstance(phrase, str):
        return False
    try:
        phrase.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
