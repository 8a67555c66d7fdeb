"""A family-agnostic training loop: AdamW, warm-up, EMA weights, bf16 autocast, resumable state.

``Trainer.run()`` is a plain generator of TrainEvents (loss, sample grids, checkpoints) so the CLI
prints them and the UI plots them; its ``stop`` callable is asked before every step, and a stop saves
the state. The state file holds everything a run depends on (weights, EMA, optimisers, the data
stream's position, the random generators), so a resumed run takes the very steps an uninterrupted one
would have; nothing with NaN or infinite values is ever written over it.
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
from .paths import state_path
from .stream import Tensors, resumable


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
    # Endless iterator of batches already on the device; a resumable one (training.stream) is put back
    # where it was on resume, any other is replayed from its start.
    batches: Iterator
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


def rng_state(device: str) -> tuple[dict, Tensors]:
    """The global generators training draws from: torch's (dropout, noise, a GAN's z), the
    accelerator's, and numpy's. (Python's ``random`` is not used by training; the window picks its
    random seeds with it, so it is left alone.)"""
    tensors = {"torch": torch.get_rng_state()}
    kind = torch.device(device).type
    if kind == "cuda":
        tensors["cuda"] = torch.cuda.get_rng_state(device)
    elif kind == "mps":
        tensors["mps"] = torch.mps.get_rng_state()
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["numpy"] = torch.from_numpy(np.asarray(keys, np.int64))
    return {"numpy": {"pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)}}, tensors


def set_rng_state(device: str, info: dict, tensors: Tensors) -> None:
    torch.set_rng_state(tensors["torch"])
    kind = torch.device(device).type
    if kind == "cuda" and "cuda" in tensors:
        torch.cuda.set_rng_state(tensors["cuda"], device)
    elif kind == "mps" and "mps" in tensors:
        torch.mps.set_rng_state(tensors["mps"])
    if "numpy" in tensors and "numpy" in info:
        n = info["numpy"]
        np.random.set_state(("MT19937", tensors["numpy"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                             n["gauss"]))


def first_nonfinite(tensors: Tensors) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity, if any."""
    for name, t in tensors.items():
        if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
            return name
    return None


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
        self.batches = resumable(task.batches)
        self.step = 0
        self.seconds = 0.0
        self._running: dict[str, float] = {}  # loss sums since the last logged step, and their count
        self._count = 0
        self._rng: tuple[dict, Tensors] | None = None  # generator states run() starts from, on resume
        self._good: int | None = None  # the step of the state this run last wrote or resumed from
        if resume and state_path(self.out).is_file():
            self._load_state()

    # --- persistence -------------------------------------------------------------------------
    def save_state(self) -> Path:
        """Write the resumable state, after checking every weight and optimiser figure is finite (a NaN
        there is refused with a TrainingError, and the last good state stays as it was)."""
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
        path = state_path(self.out)
        self._refuse_nonfinite(tensors, path)
        data_info, data = self.batches.state()
        rng_info, rng = rng_state(self.device)
        tensors.update({f"data.{k}": v for k, v in data.items()})
        tensors.update({f"rng.{k}": v for k, v in rng.items()})
        extra = {"step": self.step, "seconds": self.seconds, "param_groups": groups[0],
                 "more_param_groups": groups[1:], "train": asdict(self.cfg),
                 "data": data_info, "rng": rng_info, "log": {"running": self._running, "count": self._count}}
        ckpt_io.save(path, family=self.task.family, config=self.task.config, tensors=tensors, extra=extra)
        self._good = self.step
        return path

    def _refuse_nonfinite(self, tensors: Tensors, target: Path) -> None:
        """A NaN gradient with a finite loss leaves NaN weights behind: never write them over a good file."""
        name = first_nonfinite(tensors)
        if name is None:
            return
        part, _, key = name.partition(".")
        what = {"model": "weight", "ema": "EMA weight"}.get(part, "optimiser state" if part.startswith("optim")
                                                            else "tensor")
        key = name if what == "tensor" else key
        if not target.exists():
            kept = "nothing was written"
        elif self._good is not None:
            kept = f"{target.name} still holds the last good state (step {self._good}), which --resume continues"
        else:
            kept = f"{target.name} was left as it was"
        raise TrainingError(f"Training stopped at step {self.step}: the {what} {key} holds NaN or infinite values, "
                            f"so it was not saved and {kept} (try a lower --lr).")

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
        if "data" in ck.extra:  # (states written before the stream's position was saved start it afresh)
            self.batches.restore(ck.extra["data"], ck.group("data"))
        if "torch" in ck.group("rng"):
            self._rng = (ck.extra.get("rng", {}), ck.group("rng"))
        log = ck.extra.get("log", {})
        self._running, self._count = dict(log.get("running", {})), int(log.get("count", 0))
        self._good = self.step

    def save_final(self) -> Path:
        """The shipped file: EMA weights only, plus the model card."""
        shipped = self.task.shipped(self.ema.model) if self.task.shipped else self.ema.model
        tensors = {f"ema.{k}": v for k, v in shipped.state_dict().items()}
        self._refuse_nonfinite(tensors, self.out)
        if self.task.finalize is not None:  # first: it may add what it measured to the card
            tensors.update(self.task.finalize(self.ema.model))
            self._refuse_nonfinite(tensors, self.out)
        card = {
            "id": self.out.stem, "family": self.task.family, "config": self.task.config,
            "training": {**asdict(self.cfg), "steps_done": self.step, "seconds": round(self.seconds, 1),
                         "device": describe(self.device), "torch": torch.__version__},
            **self.task.card,
        }
        try:  # a damaged old card must not cost the run its weights
            old = ckpt_io.read_card(self.out) if self.out.exists() else {}
        except CheckpointError:
            old = {}
        if "metrics" in old and old.get("training", {}).get("steps_done") == self.step:
            card["metrics"] = old["metrics"]
        return ckpt_io.save(self.out, family=self.task.family, config=self.task.config, tensors=tensors,
                            extra={"step": self.step}, card=card)

    # --- the loop ----------------------------------------------------------------------------
    def _where(self) -> str:
        saved = state_path(self.out)
        return f"; the last good state is {saved}" if saved.exists() else ""

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

    def run(self, stop: Callable[[], bool] | None = None) -> Iterator[TrainEvent]:
        """Train to ``cfg.steps``. ``stop`` is asked before every step: when it says so, the state is
        saved and a "stopped" event (path: the state) ends the run."""
        cfg = self.cfg
        if self._rng is not None:  # resumed: the generators continue where the saved run left them
            set_rng_state(self.device, *self._rng)
            self._rng = None
        else:
            torch.manual_seed(cfg.seed + self.step)
        self.model.train()
        while self.step < cfg.steps:
            if stop is not None and stop():
                path = self.save_state()
                yield TrainEvent("stopped", self.step, cfg.steps, path=str(path),
                                 message=f"Stopped at step {self.step}; state saved (Resume continues).")
                return
            t0 = time.perf_counter()
            batch = next(self.batches)
            factor = self._lr_factor()
            for opt in self.opts:
                for g in opt.param_groups:
                    g["lr"] = g["base_lr"] * factor
            if self.task.step is not None:
                reported = self.task.step(self.model, batch, self.opts, self._autocast)
                loss = torch.tensor(reported.pop("loss", sum(reported.values())))
                terms = {k: torch.tensor(v) for k, v in reported.items()}
            else:
                with self._autocast():
                    out = self.task.loss(self.model, batch)
                loss, terms = out if isinstance(out, tuple) else (out, {})
            figures = {"loss": loss, **terms}
            bad = [k for k, v in figures.items() if not torch.isfinite(v).all()]
            if bad:
                raise TrainingError(f"The {bad[0]} became {float(figures[bad[0]].detach())} at step "
                                    f"{self.step + 1}; training stopped (try a lower --lr){self._where()}.")
            if self.task.step is None:
                self.opts[0].zero_grad(set_to_none=True)
                loss.backward()
                # The norm is wanted anyway: a NaN gradient under a finite loss stops before the weights change.
                norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip or math.inf)
                if not bool(torch.isfinite(norm)):
                    raise TrainingError(f"The gradient became {float(norm)} at step {self.step + 1} while the loss "
                                        f"was finite; training stopped before the weights changed (try a lower "
                                        f"--lr){self._where()}.")
                self.opts[0].step()
            self.ema.update(self.model, self.step)
            self.step += 1
            self.seconds += time.perf_counter() - t0
            self._count += 1
            for name, value in figures.items():
                self._running[name] = self._running.get(name, 0.0) + float(value.detach())
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                means = {k: v / self._count for k, v in self._running.items()}
                self._running, self._count = {}, 0  # before yielding: a state saved meanwhile starts afresh
                yield TrainEvent("step", self.step, cfg.steps, {**means, "lr": self._lr(), "seconds": self.seconds})
            if self.task.samples and (self.step % cfg.sample_every == 0 or self.step == cfg.steps):
                yield TrainEvent("samples", self.step, cfg.steps, images=self.task.samples(self.ema.model))
            if self.step % cfg.checkpoint_every == 0 and self.step < cfg.steps:
                yield TrainEvent("checkpoint", self.step, cfg.steps, path=str(self.save_state()))
        self.save_state()
        yield TrainEvent("done", self.step, cfg.steps, path=str(self.save_final()),
                         metrics={"seconds": self.seconds})
