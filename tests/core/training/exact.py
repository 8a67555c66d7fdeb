"""Shared by the resume tests of every family: train a task uninterrupted, then interrupted and
resumed, and compare every tensor the run depends on (weights, EMA, optimiser state) exactly."""
from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from studio.core.training.trainer import TrainConfig, Trainer, TrainTask
from tests.conftest import single_thread


class FakeEncoder:
    """A stand-in for the sentence encoder: a fixed unit vector per text ('' is zero), no model to load."""

    def encode(self, texts: list[str]) -> torch.Tensor:
        out = []
        for t in (t.strip() for t in texts):
            if not t:
                out.append(torch.zeros(384))
                continue
            v = torch.randn(384, generator=torch.Generator().manual_seed(zlib.crc32(t.encode())))
            out.append(v / v.norm())
        return torch.stack(out)

    def encode_tokens(self, texts: list[str]) -> list[torch.Tensor]:
        """One fixed vector per word ('' has no tokens), for models that read the prompt's tokens."""
        return [self.encode(t.split()) if t.strip() else torch.zeros(0, 384) for t in texts]


def state_tensors(trainer: Trainer) -> dict[str, torch.Tensor]:
    tensors = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    tensors |= {f"ema.{k}": v for k, v in trainer.ema.model.state_dict().items()}
    for j, opt in enumerate(trainer.opts):
        for idx, st in opt.state_dict()["state"].items():
            tensors |= {f"optim{j}.{idx}.{k}": torch.as_tensor(v) for k, v in st.items()}
    return tensors


def train(make_task: Callable[[], TrainTask], out: Path, cfg: TrainConfig, *, cut_at: int | None = None,
          cut: str = "stop", resume: bool = False) -> tuple[Trainer, list]:
    """Run a task built afresh (as a new process would); ``cut_at``: interrupted after that step, by the
    trainer's stop ("stop") or by abandoning it right after its periodic state save ("checkpoint")."""
    torch.manual_seed(0)
    task = make_task()
    task.finalize, task.samples = None, None  # what is shipped at the end is not part of resuming
    trainer = Trainer(task, cfg, out, resume=resume)
    stop = (lambda: trainer.step >= cut_at) if cut_at is not None and cut == "stop" else None
    events = []
    for ev in trainer.run(stop=stop):
        events.append(ev)
        if cut == "checkpoint" and ev.kind == "checkpoint" and ev.step == cut_at:
            break  # as if killed: only the state file is left
    return trainer, events


def losses(events: list, after: int) -> list[tuple[int, float]]:
    return [(e.step, e.metrics["loss"]) for e in events if e.kind == "step" and e.step > after]


one_thread = single_thread  # the in-process runs compare bit for bit: one thread, as everywhere


def assert_resume_is_exact(make_task: Callable[[], TrainTask], tmp_path: Path, *, steps: int = 6, cut_at: int = 3,
                           cut: str = "stop", **settings) -> None:
    with one_thread():
        _assert_resume_is_exact(make_task, tmp_path, steps, cut_at, cut, settings)


def _assert_resume_is_exact(make_task, tmp_path, steps, cut_at, cut, settings) -> None:
    cfg = TrainConfig(steps=steps, **{"warmup": 2, "precision": "fp32", "log_every": 1, "sample_every": 10**9,
                                      "checkpoint_every": cut_at if cut == "checkpoint" else 10**9, **settings})
    full, full_events = train(make_task, tmp_path / "full.safetensors", cfg)
    cut_run, _ = train(make_task, tmp_path / "cut.safetensors", cfg, cut_at=cut_at, cut=cut)
    assert cut_run.step == cut_at
    torch.manual_seed(12345)  # whatever else the process drew meanwhile must not matter
    np.random.seed(6789)
    resumed, resumed_events = train(make_task, tmp_path / "cut.safetensors", cfg, resume=True)
    assert resumed.step == steps
    assert losses(resumed_events, cut_at) == losses(full_events, cut_at)
    a, b = state_tensors(full), state_tensors(resumed)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"resumed differs from uninterrupted in {len(different)} tensors, e.g. {different[:3]}"
