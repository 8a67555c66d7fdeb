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
    [aside] = tmp_path.glob("queue.json.corrupt-*")
    assert aside.read_text().startswith('{"version": 1')
    assert not path.exists()
    q.push(_req(1))
    assert len(JobQueue(path)) == 1


def test_invalid_request_value_counts_as_corrupt(tmp_path):
    path = tmp_path / "queue.json"
    path.write_text(json.dumps({"version": 1, "jobs": [{"id": "x", "request": {"steps": "many"}}]}))
    q = JobQueue(path)
    assert len(q) == 0 and q.warning
    assert len(list(tmp_path.glob("queue.json.corrupt-*"))) == 1


# --- hardening (issue 11, items 5 and 12) ---------------------------------------------------------------
import os  # noqa: E402
import time  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def test_invalid_utf8_is_set_aside_not_a_crash(tmp_path):
    """A queue.json with invalid UTF-8 stopped the window from starting."""
    path = tmp_path / "queue.json"
    raw = b'{"version": 1, "jobs": [{"id": "x", "request": {"prompt": "\xff\xfe"}}]}'
    path.write_bytes(raw)
    q = JobQueue(path)
    assert len(q) == 0 and "damaged" in q.warning and "kept as queue.json.corrupt-" in q.warning
    [aside] = tmp_path.glob("queue.json.corrupt-*")
    assert aside.read_bytes() == raw and not path.exists()


@pytest.mark.parametrize("request_json", ['{"steps": Infinity}', '{"seed": 1e999}', '{"batch_size": NaN}',
                                          '{"latent": [' + "9" * 400 + ']}', '{"prompt": "\\ud800"}'])
def test_infinity_and_huge_numbers_are_reported_and_the_good_jobs_kept(tmp_path, request_json):
    path = tmp_path / "queue.json"
    good = json.dumps({"id": "good", "request": _req(7).to_dict()})
    raw = '{"version": 1, "jobs": [' + good + ', {"id": "bad", "request": ' + request_json + "}]}"
    path.write_text(raw)
    q = JobQueue(path)
    assert q.jobs() == [("good", _req(7))]
    assert "1 job(s) of the saved queue could not be read" in q.warning and "1 job(s) wait" in q.warning
    [aside] = tmp_path.glob("queue.json.corrupt-*")
    assert aside.read_text() == raw, "the unreadable job is kept in the file set aside"
    assert JobQueue(path).jobs() == [("good", _req(7))], "the good job is still queued at the start after"
    q.push(_req(8))  # the restored jobs save again
    assert [r.seed for _, r in JobQueue(path).jobs()] == [7, 8]


def test_a_save_cut_short_by_a_crash_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "queue.json"
    JobQueue(path).push(_req(1))
    stale = tmp_path / ".queue.json.ab_c1234.tmp"
    stale.write_text('{"version": 1, "jo')
    old = time.time() - 3600
    os.utime(stale, (old, old))
    q = JobQueue(path)
    assert len(q) == 1 and q.warning is None and not stale.exists()


_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
              st.sampled_from([10**400, "\ud800", 1e308, "ddim"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12)
_entries = st.one_of(
    _json_values,
    st.fixed_dictionaries({"id": st.one_of(st.text(max_size=6), _json_values),
                           "request": st.one_of(_json_values, st.dictionaries(
                               st.sampled_from(list(GenerationRequest().to_dict())), _json_values, max_size=4))}))
_queue_files = st.one_of(
    st.binary(max_size=200),
    st.fixed_dictionaries({"version": st.one_of(st.just(1), _json_values), "jobs": st.lists(_entries, max_size=4)})
    .map(lambda d: json.dumps(d).encode()),
    st.lists(_entries, max_size=3).map(lambda jobs: json.dumps({"version": 1, "jobs": jobs}).encode()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=_queue_files)
def test_any_queue_file_loads_or_is_set_aside_with_a_report(tmp_path, raw):
    for old in tmp_path.iterdir():
        old.unlink()
    path = tmp_path / "queue.json"
    path.write_bytes(raw)
    q = JobQueue(path)
    asides = list(tmp_path.glob("queue.json.corrupt-*"))
    if q.warning is None:
        assert path.read_bytes() == raw and not asides  # loaded as it is
    else:
        assert q.warning.endswith(".") and [a.read_bytes() for a in asides] == [raw]
    n = len(q)
    q.push(_req(1))  # whatever was restored can be saved again
    assert len(JobQueue(path)) == n + 1
