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

FORMAT_VERSION = 1
Job = tuple[str, GenerationRequest]


class JobQueue:
    """Pending requests in order; every change is saved atomically to ``path`` (when given)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.warning: str | None = None  # set when a saved queue could not be loaded
        self._lock = threading.RLock()  # the worker pops while the UI edits
        self._jobs: list[Job] = []
        if self.path is not None and self.path.exists():
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
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            self.warning = f"The saved job queue could not be read ({e.strerror or e}); starting with an empty queue."
            return
        try:
            self._jobs = _parse(text)
        except (ValueError, RequestError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            aside = _set_aside(path)
            kept = f"it was kept as {aside.name}" if aside else "it could not be moved aside"
            self.warning = f"The saved job queue was damaged ({e}); {kept} and the queue starts empty."


def _parse(text: str) -> list[Job]:
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise ValueError("no job list")
    if not isinstance(data.get("version"), int) or data["version"] > FORMAT_VERSION:
        raise ValueError("unknown format version")
    jobs: list[Job] = []
    seen: set[str] = set()
    for entry in data["jobs"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or entry["id"] in seen:
            raise ValueError("a job has no valid id")
        seen.add(entry["id"])
        jobs.append((entry["id"], GenerationRequest.from_dict(entry.get("request"))))
    return jobs


def _set_aside(path: Path) -> Path | None:
    """Rename a damaged queue file to ``<name>.corrupt`` (never over an earlier one)."""
    aside = path.with_name(path.name + ".corrupt")
    if aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")
    try:
        os.replace(path, aside)
    except OSError:
        return None
    return aside
