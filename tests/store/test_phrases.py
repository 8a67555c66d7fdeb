"""The phrase library's file: whatever it holds, the store opens (issue 11, items 5 and 12)."""
import json
import os
import time

from studio.store.phrases import PhraseStore


def test_nested_or_unsaveable_content_is_set_aside_or_dropped(tmp_path):
    path = tmp_path / "phrases.json"
    path.write_text("[" * 100_000)  # json.loads raises RecursionError, not a ValueError
    store = PhraseStore(path)
    assert store.warning and "could not be read" in store.warning and store.favourites == []
    path.write_text(json.dumps({"recent": ["\ud800", "ok"], "favourites": ["a\udfffb", "kept"]}))
    store = PhraseStore(path)
    assert (store.recent, store.favourites, store.warning) == (["ok"], ["kept"], None)
    store.record_prompt("new one, \ud800")  # a lone surrogate could never be saved: dropped, not a crash
    assert PhraseStore(path).recent == ["new one", "ok"]
    assert not store.add_favourite("x\ud800")


def test_a_save_cut_short_by_a_crash_is_tidied(tmp_path):
    path = tmp_path / "phrases.json"
    PhraseStore(path).add_favourite("kept")
    stale = tmp_path / ".phrases.json.q1w2e3r4.tmp"
    stale.write_text("{")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert PhraseStore(path).favourites == ["kept"] and not stale.exists()
