"""The gallery: PNGs on disk are the truth, a SQLite index makes listing and search fast.

Every PNG carries its own settings (pngmeta), so the index can always be rebuilt from the files;
a damaged index is set aside, never deleted, and the gallery comes back from the images.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import RequestError
from ..core.request import MAX_BATCH, GenerationRequest
from .paths import clean_stale_tmp
from .pngmeta import read_settings, save_png

DB_NAME = "gallery.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file TEXT NOT NULL UNIQUE,          -- bare file name; lives in images/ or, once deleted, trash/
    request TEXT NOT NULL,              -- GenerationRequest as JSON
    prompt TEXT NOT NULL,
    negative_prompt TEXT NOT NULL,
    batch_index INTEGER NOT NULL,
    created REAL NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS items_created ON items (created);
"""
_COLUMNS = "id, file, request, batch_index, created, deleted"


def _is_damage(e: sqlite3.DatabaseError) -> bool:
    """Damage means the file itself is bad; 'locked' or 'unable to open' says nothing about its contents."""
    if not isinstance(e, sqlite3.OperationalError):
        return True  # 'file is not a database', 'database disk image is malformed', failed quick_check
    return any(s in str(e) for s in ("malformed", "not a database", "no such table", "no such column"))


@dataclass(frozen=True)
class GalleryItem:
    id: int
    path: Path
    request: GenerationRequest
    batch_index: int
    created: float
    deleted: bool


class GalleryStore:
    """Images in ``root/images``, soft-deleted ones in ``root/trash``, index in ``root/gallery.sqlite3``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.images_dir = self.root / "images"
        self.trash_dir = self.root / "trash"
        self.db_path = self.root / DB_NAME
        self.images_dir.mkdir(parents=True, exist_ok=True)
        self.trash_dir.mkdir(parents=True, exist_ok=True)
        # What happened at opening that the user should hear about (a rebuilt index, skipped files),
        # one complete sentence each; the window shows them.
        self.problems: list[str] = []
        # Written from the session's gallery-writer thread and read from the GUI thread: one
        # connection (check_same_thread=False) serialised by this lock.
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        clean_stale_tmp(self.root, self.images_dir, self.trash_dir)  # left by a crash mid-write
        existed = self.db_path.exists()
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as e:
            if not _is_damage(e):
                raise  # e.g. locked by another instance: the file is fine, leave it where it is
            self._replace_damaged(f"The gallery index was damaged ({e})")
            return
        self._check_index(existed)

    @property
    def warning(self) -> str | None:
        """All problems as one text, or None."""
        return " ".join(self.problems) or None

    # --- public API -------------------------------------------------------------------------

    def add(self, image: np.ndarray, request: GenerationRequest, batch_index: int = 0) -> GalleryItem:
        """Write the PNG first, then index it: a crash can leave an unindexed PNG, never a row without one."""
        if not 0 <= batch_index < MAX_BATCH:  # what the index reads back as sound (see _parse_row)
            raise ValueError(f"batch index {batch_index} is outside a batch")
        created = time.time()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(created))
        name = f"{stamp}-s{request.seed}-b{batch_index}-{uuid.uuid4().hex[:8]}.png"
        path = save_png(self.images_dir / name, image, request, batch_index)
        try:
            with self._lock:
                item_id = self._insert(name, request, batch_index, created, deleted=False)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return GalleryItem(item_id, path, request, batch_index, created, False)

    def items(self, query: str = "", include_deleted: bool = False, limit: int | None = None) -> list[GalleryItem]:
        """Newest first; ``query`` is a case-insensitive substring of the prompt or negative prompt."""
        where, args = [], []
        if not include_deleted:
            where.append("deleted = 0")
        if query:
            where.append("(instr(casefold(prompt), ?) > 0 OR instr(casefold(negative_prompt), ?) > 0)")
            args += [query.casefold()] * 2
        sql = f"SELECT {_COLUMNS} FROM items"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, id DESC LIMIT ?"
        args.append(-1 if limit is None else max(0, int(limit)))
        with self._lock:
            rows = self._db().execute(sql, args).fetchall()
        return [item for item in map(self._item, rows) if item is not None]

    def get(self, item_id: int) -> GalleryItem | None:
        with self._lock:
            row = self._db().execute(f"SELECT {_COLUMNS} FROM items WHERE id = ?", (item_id,)).fetchone()
        return self._item(row) if row else None

    def delete(self, item_id: int) -> GalleryItem:
        """Soft delete: the file moves to trash/ and can be restored until purge_deleted()."""
        return self._set_deleted(item_id, True)

    def restore(self, item_id: int) -> GalleryItem:
        return self._set_deleted(item_id, False)

    def purge_deleted(self) -> int:
        """Remove deleted items for good; returns how many."""
        with self._lock:
            conn = self._db()
            rows = conn.execute("SELECT file FROM items WHERE deleted = 1").fetchall()
            with conn:
                conn.execute("DELETE FROM items WHERE deleted = 1")
            # Rows go first: a crash in between leaves a stray file in trash/, which a rebuild
            # would bring back as deleted, rather than a row pointing at nothing.
            for (name,) in rows:
                (self.trash_dir / name).unlink(missing_ok=True)
        return len(rows)

    def rebuild_index(self) -> int:
        """Re-create the index from the PNGs in images/ and trash/; returns how many were indexed."""
        return self._rebuild()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "GalleryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- internals --------------------------------------------------------------------------

    def _check_index(self, existed: bool) -> None:
        """Trust the index only as far as the files bear it out: rebuild it when it is missing or empty
        while images exist, or when any row no longer reads; add the images a crash left unindexed."""
        on_disk = self._png_files()
        with self._lock:
            rows = self._db().execute(f"SELECT {_COLUMNS} FROM items").fetchall()
        if not rows and on_disk:
            what = "was empty" if existed else "was missing"
            n, skipped = self._rebuild()
            # None readable: the files alone are news (and are said again at every start until moved).
            self._report(f"The gallery index {what} though its folder holds {len(on_disk)} image(s); it was "
                         f"rebuilt from {n} image(s)" if n else "", skipped)
            return
        bad = next((row for row in rows if self._parse_row(row) is None), None)
        if bad is not None:
            self._replace_damaged(f"The gallery index was damaged (the entry for {str(bad[1])[:80]!r} no longer "
                                  "reads)", close=True)
            return
        indexed = {row[1] for row in rows}
        orphans = {name: deleted for name, deleted in on_disk.items() if name not in indexed}
        if orphans:
            n, skipped = self._index_files(orphans, clear=False)
            if n:
                self.problems.append(f"{n} image(s) saved but not yet listed (the studio stopped before indexing "
                                     "them) were added to the gallery.")
            if skipped:
                self._report("", skipped)

    def _replace_damaged(self, reason: str, close: bool = False) -> None:
        """Set the damaged index aside (kept, never deleted) and rebuild a fresh one from the images."""
        if close:
            self.close()
        aside = self._set_aside_db()
        self._conn = self._connect()
        n, skipped = self._rebuild()
        self._report(f"{reason}; it was kept as {aside.name} and rebuilt from {n} image(s)", skipped)

    def _report(self, head: str, skipped: list[str]) -> None:
        """One sentence: what was done (``head``) and which files were skipped, and why."""
        if skipped:
            shown = "; ".join(reason[:200] for reason in skipped[:5])
            more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            tail = f"skipped {len(skipped)} unreadable image(s), left where they are: {shown}{more}"
            head = f"{head}; {tail}" if head else tail[0].upper() + tail[1:]
        if head:
            self.problems.append(head.rstrip(".") + ".")

    def _png_files(self) -> dict[str, bool]:
        """Every PNG in images/ and trash/: file name -> deleted. A file in both (a move cut short by a
        crash) counts as in images/."""
        found = {}
        for folder, deleted in ((self.trash_dir, True), (self.images_dir, False)):
            try:
                found.update({p.name: deleted for p in folder.glob("*.png") if _is_file_name(p.name) and p.is_file()})
            except OSError:
                continue
        return found

    def _rebuild(self) -> tuple[int, list[str]]:
        return self._index_files(self._png_files(), clear=True)

    def _index_files(self, files: dict[str, bool], clear: bool) -> tuple[int, list[str]]:
        """Index ``files`` (name -> deleted) from their embedded settings, oldest first so ids grow with
        time as after add(); ``clear``: replace the whole index. Returns how many were indexed and,
        for each file skipped, why (one can't be read: the index must still open)."""
        found: list[tuple[float, str, GenerationRequest, int, bool]] = []
        skipped: list[str] = []
        for name, deleted in files.items():
            path = (self.trash_dir if deleted else self.images_dir) / name
            try:
                request, batch_index = read_settings(path)
                request = request.validated()  # the rows are checked the same way when the index opens
                created = path.stat().st_mtime  # the PNG has no timestamp of its own
            except RequestError as e:
                skipped.append(str(e))
                continue
            except Exception as e:  # noqa: BLE001 - one bad file must not stop the gallery from opening
                skipped.append(f"{name} could not be read ({type(e).__name__}: {e}).")
                continue
            found.append((created, name, request, batch_index, deleted))
        found.sort(key=lambda f: (f[0], f[1]))
        count = 0
        with self._lock:
            conn = self._db()
            with conn:
                if clear:
                    conn.execute("DELETE FROM items")
                for created, name, request, batch_index, deleted in found:
                    try:
                        self._insert(name, request, batch_index, created, deleted, commit=False)
                    except (sqlite3.Error, ValueError) as e:  # UnicodeEncodeError is a ValueError
                        skipped.append(f"{name} could not be indexed ({e}).")
                        continue
                    count += 1
        return count, skipped


    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, check_same_thread=False)
        try:
            conn.create_function("casefold", 1, lambda s: s.casefold() if isinstance(s, str) else s,
                                 deterministic=True)  # SQLite's lower() only folds ASCII
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            # A file can open fine and still be damaged inside; check before trusting it.
            check = conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check[0] if check else 'no result'}")
            conn.execute(f"SELECT {_COLUMNS}, prompt, negative_prompt FROM items LIMIT 1").fetchall()
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_aside_db(self) -> Path:
        """Rename the damaged index (and its WAL files, which belong to it) out of the way."""
        aside = self.db_path.with_name(f"{DB_NAME}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while aside.exists():
            aside = aside.with_name(f"{DB_NAME}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
            n += 1
        os.replace(self.db_path, aside)
        for suffix in ("-wal", "-shm"):
            side = self.db_path.with_name(DB_NAME + suffix)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + suffix))
        return aside

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the gallery store is closed")
        return self._conn

    def _insert(self, name: str, request: GenerationRequest, batch_index: int, created: float,
                deleted: bool, commit: bool = True) -> int:
        conn = self._db()
        cur = conn.execute(
            "INSERT INTO items (file, request, prompt, negative_prompt, batch_index, created, deleted) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, request.to_json(), request.prompt, request.negative_prompt, batch_index, created, int(deleted)))
        if commit:
            conn.commit()
        return int(cur.lastrowid)

    def _set_deleted(self, item_id: int, deleted: bool) -> GalleryItem:
        with self._lock:
            conn = self._db()
            row = conn.execute("SELECT file, deleted FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise KeyError(f"no gallery item with id {item_id}")
            name, was_deleted = row
            if bool(was_deleted) != deleted:
                src, dst = (self.images_dir, self.trash_dir) if deleted else (self.trash_dir, self.images_dir)
                with conn:  # the row changes only if the move succeeds
                    conn.execute("UPDATE items SET deleted = ? WHERE id = ?", (int(deleted), item_id))
                    if (src / name).exists():
                        os.replace(src / name, dst / name)
            item = self.get(item_id)
        if item is None:
            raise KeyError(f"gallery item {item_id} no longer reads")
        return item

    def _parse_row(self, row: tuple) -> tuple[GenerationRequest, int, float, bool] | None:
        """A row's values, or None when it no longer reads (a damaged byte SQLite's check can't see)."""
        _, name, request_json, batch_index, created, deleted = row
        try:
            if not (isinstance(name, str) and _is_file_name(name)):
                return None
            # validated: a changed byte can leave valid JSON naming a family or sampler that is not there
            request = GenerationRequest.from_dict(json.loads(request_json)).validated()
            if not (isinstance(batch_index, int) and 0 <= batch_index < MAX_BATCH):
                return None
            return request, batch_index, float(created), bool(deleted)
        except (RequestError, ValueError, TypeError, OverflowError, RecursionError):
            return None

    def _item(self, row: tuple) -> GalleryItem | None:
        parsed = self._parse_row(row)
        if parsed is None:
            return None  # checked when the store opened; damaged since: left out rather than a crash
        request, batch_index, created, deleted = parsed
        item_id, name = int(row[0]), row[1]
        expected, other = (self.trash_dir, self.images_dir) if deleted else (self.images_dir, self.trash_dir)
        path = expected / name
        if not path.exists() and (other / name).exists():
            path = other / name  # a move interrupted by a crash: point at where the file really is
        return GalleryItem(item_id, path, request, batch_index, created, deleted)


def _is_file_name(name: str) -> bool:
    """A bare PNG file name, as add() makes them: nothing that reaches outside images/ or trash/."""
    return (name.endswith(".png") and not name.startswith(".") and "/" not in name and "\\" not in name
            and "\0" not in name)
