"""Leftovers of interrupted atomic writes are removed at the next start (issue 11, item 12)."""
import os
import time

from studio.core.atomic import atomic_write_text
from studio.store.paths import clean_stale_tmp, clean_user_tmp


def _leftover(path, age=3600.0):
    """A temporary file as atomic_write leaves it when the process dies mid-write, ``age`` seconds old."""
    path.write_text("half")
    old = time.time() - age
    os.utime(path, (old, old))
    return path


def test_a_crashed_atomic_write_is_removed_and_the_file_it_replaced_kept(tmp_path):
    target = tmp_path / "queue.json"
    atomic_write_text(target, "whole")
    leftover = _leftover(tmp_path / ".queue.json.abcd_123.tmp")
    assert clean_stale_tmp(tmp_path) == [leftover]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.json"] and target.read_text() == "whole"


def test_only_old_leftovers_of_ours_are_removed(tmp_path):
    ours = _leftover(tmp_path / ".model.safetensors.x1y2z3_4.tmp")
    fresh = _leftover(tmp_path / ".model.safetensors.a1b2c3d4.tmp", age=0)  # a training run may be saving it
    users = [_leftover(tmp_path / name) for name in ("notes.tmp", ".hidden.tmp", "a.png", ".a.png.short.tmp")]
    (tmp_path / "sub").mkdir()
    nested = _leftover(tmp_path / "sub" / ".x.png.abcdefgh.tmp")  # only the folders named are tidied
    assert clean_stale_tmp(tmp_path, tmp_path / "missing") == [ours]
    assert fresh.exists() and all(p.exists() for p in users) and nested.exists()


def test_clean_user_tmp_covers_the_queue_checkpoints_and_inputs(data_dir):
    made = []
    for folder in (data_dir, data_dir / "checkpoints", data_dir / "inputs"):
        folder.mkdir(exist_ok=True)
        made.append(_leftover(folder / ".f.json.zzzzzzzz.tmp"))
    assert sorted(clean_user_tmp()) == sorted(made)
    assert not any(p.exists() for p in made)


def test_a_leftover_of_a_dead_writer_is_removed_at_once(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()  # a pid that has just exited
    crashed = _leftover(tmp_path / f".queue.json.{dead}-abcd_123.tmp", age=0)
    running = _leftover(tmp_path / f".model.safetensors.{os.getpid()}-a1b2c3d4.tmp", age=0)  # being written
    assert clean_stale_tmp(tmp_path) == [crashed]
    assert running.exists()


def test_atomic_writes_name_their_writer(tmp_path):
    seen = []
    from studio.core.atomic import atomic_write

    atomic_write(tmp_path / "x.txt", lambda p: (seen.append(p.name), p.write_text("x")))
    assert seen[0].startswith(f".x.txt.{os.getpid()}-") and seen[0].endswith(".tmp")
