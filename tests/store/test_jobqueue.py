import json

import pytest

from studio.core.request import GenerationRequest
from studio.store.jobqueue import JobQueue


def _req(i):
    return GenerationRequest(prompt=f"job {i}", seed=i)


def test_fifo_in_memory():
    q = JobQueue(None)
    ids = [q.push(_req(i)) for i in range(3)]
    assert len(q) == 3 and len(set(ids)) == 3
    assert q.pop() == (ids[0], _req(0))
    assert [r.seed for _, r in q.jobs()] == [1, 2]
    q.clear()
    assert len(q) == 0 and q.pop() is None


def test_persists_across_reopen_with_edits(tmp_path):
    path = tmp_path / "queue.json"
    q = JobQueue(path)
    a, b, c, d = (q.push(_req(i)) for i in range(4))
    q.move(d, 0)            # d a b c
    q.move(a, 99)           # d b c a (clamped)
    q.remove(b)             # d c a
    q.update(c, _req(42))
    assert q.pop() == (d, _req(3))
    q2 = JobQueue(path)
    assert q2.warning is None
    assert q2.jobs() == [(c, _req(42)), (a, _req(0))]
    with pytest.raises(KeyError):
        q2.remove("nope")
    assert json.loads(path.read_text())["version"] == 1


def test_corrupt_file_is_set_aside(tmp_path):
    path = tmp_path / "queue.json"
    path.write_text('{"version": 1, "jobs": [{"id": "x", "req')
    q = JobQueue(path)
    assert len(q) == 0
    assert q.warning and "damaged" in q.warning
    aside = tmp_path / "queue.json.corrupt"
    assert aside.read_text().startswith('{"version": 1')
    assert not path.exists()
    q.push(_req(1))
    assert len(JobQueue(path)) == 1


def test_invalid_request_value_counts_as_corrupt(tmp_path):
    path = tmp_path / "queue.json"
    path.write_text(json.dumps({"version": 1, "jobs": [{"id": "x", "request": {"steps": "many"}}]}))
    q = JobQueue(path)
    assert len(q) == 0 and q.warning
    assert (tmp_path / "queue.json.corrupt").exists()
