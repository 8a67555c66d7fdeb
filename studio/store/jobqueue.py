"""A persistent FIFO of pending generation jobs, so queued work survives closing the app or a crash."""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

from ..core.atomic import atomic_write_text
from ..core.errors import RequestError
from ..core.request import GenerationRequest
from .paths import clean_stale_tmp

FORMAT_VERSION = 1
Job = tuple[str, GenerationRequest]


class JobQueue:
    """Pending requests in order; every change is saved atomically to ``path`` (when given)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.warning: str | None = None  # set when a saved queue could not be loaded
        self._lock = threading.RLock()  # the worker pops while the UI edits
        self._jobs: list[Job] = []
        if self.path is not None:
            clean_stale_tmp(self.path.parent)  # a save cut short by a crash
            if self.path.exists():
                self._load(self.path)

    def push(self, request: GenerationRequest) -> str:
        job_id = str(uuid.uuid4())
        with self._lock:
            self._commit(self._jobs + [(job_id, request)])
        return job_id

    def pop(self) -> Job | None:
        """Take the oldest job, or None when the queue is empty."""
        with self._lock:
            if not self._jobs:
                return None
            job = self._jobs[0]
            self._commit(self._jobs[1:])
            return job

    def remove(self, job_id: str) -> None:
        with self._lock:
            i = self._index(job_id)
            self._commit(self._jobs[:i] + self._jobs[i + 1:])

    def move(self, job_id: str, new_index: int) -> None:
        """Put the job at ``new_index`` (clamped to the queue), the others keep their order."""
        with self._lock:
            jobs = list(self._jobs)
            job = jobs.pop(self._index(job_id))
            jobs.insert(max(0, min(int(new_index), len(jobs))), job)
            self._commit(jobs)

    def update(self, job_id: str, request: GenerationRequest) -> None:
        with self._lock:
            i = self._index(job_id)
            jobs = list(self._jobs)
            jobs[i] = (job_id, request)
            self._commit(jobs)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def clear(self) -> None:
        with self._lock:
            self._commit([])

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    # --- internals --------------------------------------------------------------------------

    def _index(self, job_id: str) -> int:
        for i, (jid, _) in enumerate(self._jobs):
            if jid == job_id:
                return i
        raise KeyError(f"no queued job with id {job_id}")

    def _commit(self, jobs: list[Job]) -> None:
        """Save first, then adopt: if the disk write fails, memory still matches the file."""
        if self.path is not None:
            data = {"version": FORMAT_VERSION,
                    "jobs": [{"id": jid, "request": req.to_dict()} for jid, req in jobs]}
            atomic_write_text(self.path, json.dumps(data, indent=1, ensure_ascii=False))
        self._jobs = jobs

    def _load(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except OSError as e:
            self.warning = f"The saved job queue could not be read ({e.strerror or e}); starting with an empty queue."
            return
        try:
            jobs, bad = _parse(raw)
        except (ValueError, RequestError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
            jobs, bad = [], [str(e)]
        self._jobs = jobs
        if bad:  # the file keeps what could not be read: set it aside, never overwrite it
            aside = _set_aside(path)
            kept = f"it was kept as {aside.name}" if aside else "it could not be moved aside"
            if jobs:
                self.warning = (f"{len(bad)} job(s) of the saved queue could not be read ({bad[0][:200]}); {kept}, "
                                f"and the other {len(jobs)} job(s) wait in the queue.")
                try:  # the readable jobs go back into a queue file of their own, or the next start loses them
                    self._commit(jobs)
                except OSError as e:
                    self.warning += f" They could not be saved again ({e.strerror or e})."
            else:
                self.warning = f"The saved job queue was damaged ({bad[0][:200]}); {kept} and the queue starts empty."


def _parse(raw: bytes) -> tuple[list[Job], list[str]]:
    """The jobs a queue file holds, and why each entry that could not be read was left out."""
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise ValueError("no job list")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError("unknown format version")
    jobs: list[Job] = []
    bad: list[str] = []
    seen: set[str] = set()
    for entry in data["jobs"]:
        if not isinstance(entry, dict) or not _is_id(entry.get("id")) or entry["id"] in seen:
            bad.append("a job has no valid id")
            continue
        try:
            jobs.append((entry["id"], GenerationRequest.from_dict(entry.get("request"))))
        except RequestError as e:
            bad.append(str(e))
            continue
        seen.add(entry["id"])
    return jobs, bad


def _is_id(value: object) -> bool:
    """A job id this queue can save again: short text that is valid Unicode."""
    if not isinstance(value, str) or not 0 < len(value) <= 100:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _set_aside(path: Path) -> Path | None:
    """Rename a damaged queue file to ``<name>.corrupt-<time>`` (never over an earlier one)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    if aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{uuid.uuid4().hex[:6]}")
    try:
        os.replace(path, aside)
    except OSError:
        return None
    return aside
