import sqlite3

import numpy as np
import pytest

from studio.core.request import GenerationRequest
from studio.store.gallery import GalleryStore
from studio.store.pngmeta import read_settings

IMG = np.full((28, 28, 1), 128, dtype=np.uint8)


@pytest.fixture
def store(tmp_path):
    s = GalleryStore(tmp_path)
    yield s
    s.close()


def _fill(store):
    a = store.add(IMG, GenerationRequest(prompt="A Red Dress", seed=1))
    b = store.add(IMG, GenerationRequest(prompt="sneaker", negative_prompt="red laces", seed=2), batch_index=1)
    c = store.add(IMG, GenerationRequest(prompt="Grey Coat", seed=3))
    return a, b, c


def test_add_list_search(store, tmp_path):
    a, b, c = _fill(store)
    assert a.path.parent == tmp_path / "images" and a.path.exists()
    assert read_settings(b.path) == (b.request, 1)
    assert [i.id for i in store.items()] == [c.id, b.id, a.id]  # newest first
    assert [i.id for i in store.items("RED")] == [b.id, a.id]   # prompt or negative, any case
    assert [i.id for i in store.items("coat")] == [c.id]
    assert store.items("100%_") == []
    assert len(store.items(limit=2)) == 2
    assert store.get(b.id) == b
    assert store.get(9999) is None


def test_delete_restore_purge(store, tmp_path):
    a, b, c = _fill(store)
    d = store.delete(b.id)
    assert d.deleted and d.path == tmp_path / "trash" / b.path.name and d.path.exists()
    assert not b.path.exists()
    assert [i.id for i in store.items()] == [c.id, a.id]
    assert [i.id for i in store.items(include_deleted=True)] == [c.id, b.id, a.id]
    r = store.restore(b.id)
    assert not r.deleted and r.path == b.path and b.path.exists()
    store.delete(a.id)
    assert store.purge_deleted() == 1
    assert store.get(a.id) is None and not list((tmp_path / "trash").iterdir())
    with pytest.raises(KeyError):
        store.delete(a.id)


def test_reopen_lists_same_items(tmp_path):
    s = GalleryStore(tmp_path)
    items = _fill(s)
    s.delete(items[0].id)
    before = s.items(include_deleted=True)
    s.close()
    s2 = GalleryStore(tmp_path)
    assert s2.warning is None
    assert s2.items(include_deleted=True) == before
    s2.close()


def test_corrupt_index_is_set_aside_and_rebuilt(tmp_path):
    s = GalleryStore(tmp_path)
    a, b, c = _fill(s)
    s.delete(a.id)
    s.close()
    db = tmp_path / "gallery.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    s2 = GalleryStore(tmp_path)
    assert s2.warning and "rebuilt from 3" in s2.warning
    asides = list(tmp_path.glob("gallery.sqlite3.corrupt-*"))
    assert len(asides) == 1 and asides[0].read_bytes().startswith(b"this is not a database")
    got = {(i.request, i.batch_index, i.deleted, i.path.name) for i in s2.items(include_deleted=True)}
    assert got == {(a.request, 0, True, a.path.name), (b.request, 1, False, b.path.name),
                   (c.request, 0, False, c.path.name)}
    assert [i.request.prompt for i in s2.items("red")] == ["sneaker"]  # a is deleted
    s2.close()
    s3 = GalleryStore(tmp_path)  # the rebuilt index is a healthy one
    assert s3.warning is None and len(s3.items(include_deleted=True)) == 3
    s3.close()


def test_rebuild_index_adopts_orphans_and_skips_foreign_files(store, tmp_path):
    a, b, c = _fill(store)
    with sqlite3.connect(tmp_path / "gallery.sqlite3") as conn:  # simulate a crash after the PNG write
        conn.execute("DELETE FROM items WHERE id = ?", (b.id,))
    (tmp_path / "images" / "foreign.png").write_bytes(b"junk")
    assert len(store.items()) == 2
    assert store.rebuild_index() == 3
    assert {i.path.name for i in store.items()} == {a.path.name, b.path.name, c.path.name}


# --- hardening: the rebuild promise (issue 11, items 4 and 12) ----------------------------------------
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from contextlib import closing  # noqa: E402

from PIL import Image  # noqa: E402
from PIL.PngImagePlugin import PngInfo  # noqa: E402


def _closed_gallery(tmp_path):
    s = GalleryStore(tmp_path)
    items = _fill(s)
    s.delete(items[0].id)
    before = {(i.request, i.batch_index, i.deleted, i.path.name) for i in s.items(include_deleted=True)}
    s.close()
    return before


def _listed(store):
    return {(i.request, i.batch_index, i.deleted, i.path.name) for i in store.items(include_deleted=True)}


def _bad_png(path, genstudio='{"version": 1, "request": {"steps": 1e999}}'):
    info = PngInfo()
    info.add_text("genstudio", genstudio)
    Image.fromarray(IMG[..., 0]).save(path, pnginfo=info)
    return path


@pytest.mark.parametrize("damage,what", [
    (lambda db: db.write_bytes(b""), "was empty"),
    (lambda db: db.unlink(), "was missing"),
])
def test_an_empty_or_deleted_index_is_rebuilt_and_said(tmp_path, damage, what):
    """A zero-byte or deleted index showed an empty gallery with no warning."""
    before = _closed_gallery(tmp_path)
    damage(tmp_path / "gallery.sqlite3")
    s = GalleryStore(tmp_path)
    assert _listed(s) == before
    assert len(s.problems) == 1 and what in s.problems[0] and "rebuilt from 3 image(s)" in s.problems[0]
    s.close()
    again = GalleryStore(tmp_path)
    assert again.problems == [] and _listed(again) == before
    again.close()


def test_a_1e999_png_is_skipped_and_reported_not_a_crash(tmp_path):
    """One PNG with "steps": 1e999 made the rebuild crash the start-up; the next start was empty."""
    before = _closed_gallery(tmp_path)
    _bad_png(tmp_path / "images" / "bomb.png")
    (tmp_path / "gallery.sqlite3").write_bytes(b"this is not a database" * 100)
    s = GalleryStore(tmp_path)
    assert _listed(s) == before
    [problem] = s.problems
    assert "damaged" in problem and "rebuilt from 3 image(s)" in problem
    assert "skipped 1 unreadable image(s)" in problem and "bomb.png" in problem and "steps" in problem
    assert (tmp_path / "images" / "bomb.png").exists(), "an unreadable file is left where it is"
    s.close()
    again = GalleryStore(tmp_path)  # the skipped file is still reported, the images still listed
    assert _listed(again) == before and len(again.problems) == 1 and "bomb.png" in again.problems[0]
    again.close()


@pytest.mark.parametrize("column,value", [
    ("request", None),  # set below: one changed byte
    ("request", '{"steps": 1e999}'),
    ("request", '{"prompt": "\\ud800"}'),
    ("request", "family"),  # set below: a changed byte that leaves valid JSON ("diffusiom")
    ("file", "../../outside.png"),
    ("batch_index", 1e300),
])
def test_a_damaged_row_that_passes_sqlites_check_is_rebuilt(tmp_path, column, value):
    """One changed byte inside a stored request passed SQLite's check and then stopped the window."""
    before = _closed_gallery(tmp_path)
    with closing(sqlite3.connect(tmp_path / "gallery.sqlite3")) as conn, conn:
        row_id, text = conn.execute("SELECT id, request FROM items ORDER BY id LIMIT 1").fetchone()
        if value is None:
            i = text.index('"steps": ') + len('"steps": ')
            value = text[:i] + "x" + text[i + 1:]
        elif value == "family":
            value = text.replace('"diffusion"', '"diffusiom"', 1)
            assert value != text
        conn.execute(f"UPDATE items SET {column} = ? WHERE id = ?", (value, row_id))
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    s = GalleryStore(tmp_path)
    assert _listed(s) == before
    [problem] = s.problems
    assert "damaged" in problem and "rebuilt from 3 image(s)" in problem
    assert len(list(tmp_path.glob("gallery.sqlite3.corrupt-*[0-9]"))) == 1, "the damaged index is kept"
    s.close()


def test_an_image_written_just_before_a_crash_appears_at_the_next_start(tmp_path):
    s = GalleryStore(tmp_path)
    a, b, c = _fill(s)
    s.delete(c.id)
    s.close()
    with closing(sqlite3.connect(tmp_path / "gallery.sqlite3")) as conn, conn:  # PNGs written, rows not
        conn.execute("DELETE FROM items WHERE id IN (?, ?)", (b.id, c.id))
    (tmp_path / "images" / "foreign.png").write_bytes(b"junk")
    s = GalleryStore(tmp_path)
    got = {i.path.name: (i.request, i.batch_index, i.deleted) for i in s.items(include_deleted=True)}
    assert got == {a.path.name: (a.request, 0, False), b.path.name: (b.request, 1, False),
                   c.path.name: (c.request, 0, True)}
    assert any("2 image(s) saved but not yet listed" in p for p in s.problems)
    assert any("foreign.png" in p and p.startswith("Skipped 1 unreadable") for p in s.problems)
    s.close()
    again = GalleryStore(tmp_path)
    assert not any("not yet listed" in p for p in again.problems)
    again.close()


def test_leftover_temporary_files_are_removed_when_the_gallery_opens(tmp_path):
    s = GalleryStore(tmp_path)
    a = s.add(IMG, GenerationRequest(prompt="kept"))
    s.close()
    stale = [tmp_path / "images" / f".{a.path.name}.abcd1234.tmp", tmp_path / "trash" / ".x.png.k_9zzzzz.tmp"]
    fresh = tmp_path / "images" / ".y.png.fresh123.tmp"  # another process may be writing it right now
    mine = tmp_path / "images" / "notes.tmp"  # not a leftover of ours
    for p in (*stale, fresh, mine):
        p.write_bytes(b"half a png")
    old = time.time() - 3600
    for p in (*stale, mine):
        os.utime(p, (old, old))
    s = GalleryStore(tmp_path)
    assert not any(p.exists() for p in stale) and fresh.exists() and mine.exists()
    assert [i.path for i in s.items()] == [a.path] and s.problems == []
    s.close()


def test_a_huge_or_nested_request_in_a_png_does_not_stop_the_rebuild(tmp_path):
    s = GalleryStore(tmp_path)
    s.add(IMG, GenerationRequest(prompt="good"))
    s.close()
    _bad_png(tmp_path / "images" / "deep.png", "[" * 50_000)
    _bad_png(tmp_path / "images" / "big.png", json.dumps({"version": 1, "request": {"prompt": "x" * 300_000}}))
    (tmp_path / "gallery.sqlite3").unlink()
    s = GalleryStore(tmp_path)
    assert [i.request.prompt for i in s.items()] == ["good"]
    assert "skipped 2 unreadable image(s)" in s.problems[0]
    s.close()


def test_a_folder_of_only_unreadable_images_says_so_at_every_start(tmp_path):
    (tmp_path / "images").mkdir(parents=True)
    _bad_png(tmp_path / "images" / "bomb.png")
    for _ in range(2):
        s = GalleryStore(tmp_path)
        assert s.items() == []
        [problem] = s.problems
        assert problem.startswith("Skipped 1 unreadable image(s)") and "bomb.png" in problem
        s.close()
