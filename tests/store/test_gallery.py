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
