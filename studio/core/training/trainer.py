"""A family-agnostic training loop: AdamW, warm-up, EMA weights, bf16 autocast, resumable state.

``Trainer.run()`` is a plain generator of TrainEvents (loss, sample grids, checkpoints) so the CLI
prints them and the UI plots them; stopping the iteration stops training between steps.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import checkpoint as ckpt_io
from ..device import describe
from ..errors import CheckpointError, TrainingError
from ..events import TrainEvent


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 128
    lr: float = 4e-4
    warmup: int = 200
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    precision: str = "bf16"  # "bf16" autocast or "fp32"
    log_every: int = 20
    sample_every: int = 500
    checkpoint_every: int = 500
    seed: int = 0


@dataclass
class TrainTask:
    """What a family supplies to the shared trainer."""

    family: str
    model: torch.nn.Module
    config: dict  # architecture config stored in the checkpoint
    # The loss on one batch; it may also return named terms, (loss, {"kl": ...}), logged beside it.
    loss: Callable[[torch.nn.Module, object], torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]]
    batches: Iterator  # endless iterator of batches already on the device
    samples: Callable[[torch.nn.Module], np.ndarray] | None = None  # preview grid from the EMA model
    card: dict = field(default_factory=dict)  # data, command... written to the model card
    # Extra tensors computed from the final EMA model and shipped with it (e.g. a VAE's latent basis).
    finalize: Callable[[torch.nn.Module], dict[str, torch.Tensor]] | None = None
    # For objectives that are not one loss (a GAN's two players): the optimisers, and a step that
    # does its own backward passes and returns the figures to log. ``loss`` is then unused.
    optimizers: Callable[[torch.nn.Module], list[torch.optim.Optimizer]] | None = None
    step: Callable[[torch.nn.Module, object, list[torch.optim.Optimizer], Callable], dict[str, float]] | None = None
    # The part of the EMA model that is shipped (a GAN ships its generator, not its discriminator).
    shipped: Callable[[torch.nn.Module], torch.nn.Module] | None = None


class EMA:
    """Exponential moving average of weights, with the usual warm-up so early steps count."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1 - d)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)


def state_path(out: Path) -> Path:
    return out.with_name(out.stem + ".state.safetensors")


class Trainer:
    def __init__(self, task: TrainTask, cfg: TrainConfig, out: str | Path, device: str = "cpu",
                 resume: bool = False) -> None:
        self.task, self.cfg, self.out, self.device = task, cfg, Path(out), device
        self.model = task.model.to(device)
        self.opts = (task.optimizers(self.model) if task.optimizers else
                     [torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)])
        for opt in self.opts:
            for g in opt.param_groups:
                g.setdefault("base_lr", g["lr"])  # the schedule scales each group's own rate
        self.ema = EMA(self.model, cfg.ema_decay)
        self.step = 0
        self.seconds = 0.0
        if resume and state_path(self.out).is_file():
            self._load_state()

    # --- persistence -------------------------------------------------------------------------
    def save_state(self) -> Path:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors.update({f"ema.{k}": v for k, v in self.ema.model.state_dict().items()})
        groups = []
        for j, opt in enumerate(self.opts):
            osd = opt.state_dict()
            prefix = "optim" if j == 0 else f"optim{j}"
            for idx, st in osd["state"].items():
                for k, v in st.items():
                    tensors[f"{prefix}.{idx}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
            groups.append(osd["param_groups"])
        extra = {"step": self.step, "seconds": self.seconds, "param_groups": groups[0],
                 "more_param_groups": groups[1:], "train": asdict(self.cfg)}
        return ckpt_io.save(state_path(self.out), family=self.task.family, config=self.task.config,
                            tensors=tensors, extra=extra)

    def _load_state(self) -> None:
        ck = ckpt_io.load(state_path(self.out), family=self.task.family)
        if ck.config != json.loads(json.dumps(self.task.config)):
            raise CheckpointError(f"Cannot resume from {state_path(self.out).name}: it was trained with a "
                                  "different architecture config.")
        ckpt_io.load_state(self.model, ck.group("model"), "resume state")
        ckpt_io.load_state(self.ema.model, ck.group("ema"), "resume state (EMA)")
        all_groups = [ck.extra["param_groups"], *ck.extra.get("more_param_groups", [])]
        if len(all_groups) != len(self.opts):
            raise CheckpointError(f"Cannot resume from {state_path(self.out).name}: it has {len(all_groups)} "
                                  f"optimiser(s), this training {len(self.opts)}.")
        for j, (opt, groups) in enumerate(zip(self.opts, all_groups)):
            state: dict[int, dict] = {}
            for k, v in ck.group("optim" if j == 0 else f"optim{j}").items():
                idx, name = k.split(".", 1)
                state.setdefault(int(idx), {})[name] = v.to(self.device) if name != "step" else v
            opt.load_state_dict({"state": state, "param_groups": groups})
        self.step, self.seconds = int(ck.extra["step"]), float(ck.extra.get("seconds", 0.0))

    def save_final(self) -> Path:
        """The shipped file: EMA weights only, plus the model card."""
        shipped = self.task.shipped(self.ema.model) if self.task.shipped else self.ema.model
        tensors = {f"ema.{k}": v for k, v in shipped.state_dict().items()}
        if self.task.finalize is not None:  # first: it may add what it measured to the card
            tensors.update(self.task.finalize(self.ema.model))
        card = {
            "id": self.out.stem, "family": self.task.family, "config": self.task.config,
            "training": {**asdict(self.cfg), "steps_done": self.step, "seconds": round(self.seconds, 1),
                         "device": describe(self.device), "torch": torch.__version__},
            **self.task.card,
        }
        old = ckpt_io.read_card(self.out) if self.out.exists() else {}
        if "metrics" in old and old.get("training", {}).get("steps_done") == self.step:
            card["metrics"] = old["metrics"]
        return ckpt_io.save(self.out, family=self.task.family, config=self.task.config, tensors=tensors,
                            extra={"step": self.step}, card=card)

    # --- the loop ----------------------------------------------------------------------------
    def _lr_factor(self) -> float:
        warm = min(1.0, (self.step + 1) / max(1, self.cfg.warmup))
        progress = self.step / max(1, self.cfg.steps)
        return warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    def _lr(self) -> float:
        return self.cfg.lr * self._lr_factor()

    def _autocast(self):
        if self.cfg.precision == "bf16":
            return torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def run(self) -> Iterator[TrainEvent]:
        cfg = self.cfg
        torch.manual_seed(cfg.seed + self.step)
        self.model.train()
        running: dict[str, float] = {}
        count = 0
        while self.step < cfg.steps:
            t0 = time.perf_counter()
            batch = next(self.task.batches)
            factor = self._lr_factor()
            for opt in self.opts:
                for g in opt.param_groups:
                    g["lr"] = g["base_lr"] * factor
            if self.task.step is not None:
                figures = self.task.step(self.model, batch, self.opts, self._autocast)
                loss = torch.tensor(figures.pop("loss", sum(figures.values())))
                terms = {k: torch.tensor(v) for k, v in figures.items()}
            else:
                with self._autocast():
                    out = self.task.loss(self.model, batch)
                loss, terms = out if isinstance(out, tuple) else (out, {})
            bad = [k for k, v in {"loss": loss, **terms}.items() if not torch.isfinite(v).all()]
            if bad:
                saved = state_path(self.out)
                where = f"; the last good state is {saved}" if saved.exists() else ""
                raise TrainingError(f"The {bad[0]} became {float(({'loss': loss, **terms})[bad[0]])} at step "
                                    f"{self.step + 1}; training stopped (try a lower --lr){where}.")
            if self.task.step is None:
                self.opts[0].zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                self.opts[0].step()
            self.ema.update(self.model, self.step)
            self.step += 1
            self.seconds += time.perf_counter() - t0
            count += 1
            for name, value in {"loss": loss, **terms}.items():
                running[name] = running.get(name, 0.0) + float(value.detach())
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                means = {k: v / count for k, v in running.items()}
                yield TrainEvent("step", self.step, cfg.steps, {**means, "lr": self._lr(), "seconds": self.seconds})
                running, count = {}, 0
            if self.task.samples and (self.step % cfg.sample_every == 0 or self.step == cfg.steps):
                yield TrainEvent("samples", self.step, cfg.steps, images=self.task.samples(self.ema.model))
            if self.step % cfg.checkpoint_every == 0 and self.step < cfg.steps:
                yield TrainEvent("checkpoint", self.step, cfg.steps, path=str(self.save_state()))
        self.save_state()
        yield TrainEvent("done", self.step, cfg.steps, path=str(self.save_final()),
                         metrics={"seconds": self.seconds})
