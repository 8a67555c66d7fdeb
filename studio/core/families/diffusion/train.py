"""Builds the diffusion TrainTask for the shared trainer."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ...data import fashion_mnist
from ...data.batches import CaptionTable, captioned_batches
from ...pixels import from_signed, to_signed
from ...prompt.encoder import PromptEncoder
from ...training.stream import check_same
from ...training.trainer import TrainTask
from .model import build, diffusion_loss
from .samplers import DDIMSampler
from .schedule import ScheduleConfig
from .unet import UNetConfig


def preview_grid(model, schedule, conds: torch.Tensor, steps: int = 20, guidance: float = 3.0,
                 seed: int = 0) -> np.ndarray:
    """A quick DDIM sample per condition row, used for training previews."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    c = model.config
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((len(conds), c.in_channels, c.image_size, c.image_size), generator=g).to(device)
    conds = conds.to(device)
    sampler = DDIMSampler(schedule)
    sampler.set_timesteps(steps)
    with torch.no_grad():
        for i, t in enumerate(sampler.timesteps):
            tt = torch.full((len(x),), t, device=device)
            e_c, e_u = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([conds, torch.zeros_like(conds)])).chunk(2)
            x = sampler.step(e_u + guidance * (e_c - e_u), i, x).prev_sample
    model.train(was_training)
    return from_signed(x)


def fashion_mnist_task(encoder: PromptEncoder, *, base_channels: int = 32, batch_size: int = 128,
                       data_dir: str | None = None, limit: int | None = None, device: str = "cpu",
                       seed: int = 0, p_uncond: float = 0.1, command: str = "") -> TrainTask:
    split = fashion_mnist.load("train", data_dir, limit=limit)
    table = CaptionTable(fashion_mnist.all_captions(), encoder)
    unet = UNetConfig(in_channels=1, image_size=28, base_channels=base_channels)
    config = {"unet": unet.to_dict(), "schedule": ScheduleConfig().__dict__, "prediction": "epsilon",
              "text_encoder": "all-MiniLM-L6-v2", "dataset": "fashion-mnist"}
    model, schedule = build(config)
    class_prompts = encoder.encode([syn[0] for syn in fashion_mnist.SYNONYMS])

    def loss(m, batch):
        x, cond = batch
        return diffusion_loss(m, schedule, x, cond)

    return TrainTask(
        family="diffusion", model=model, config=config, loss=loss,
        batches=captioned_batches(split.images, split.labels, table, batch_size, p_uncond=p_uncond,
                                  device=device, seed=seed),
        samples=lambda ema: preview_grid(ema, schedule, class_prompts),
        card={"data": {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)),
                       "captions": "templates x class synonyms (studio.core.data.fashion_mnist)",
                       "p_uncond": p_uncond},
              "reproduce": command},
    )


SHAPES_PREVIEW = ("a red circle", "a blue square", "a green triangle", "two yellow circles",
                  "a red circle to the left of a blue square", "a purple triangle and a green circle")


class ShapesBatches:
    """Freshly rendered Shapes scenes with their caption embeddings, a fraction p_uncond of them zeroed.
    Resumable (studio.core.training.stream): batch b holds scenes b*B.. of data set ``seed``, and the
    zeroing draws come from a generator whose state is saved."""

    def __init__(self, table: dict[str, torch.Tensor], batch_size: int, seed: int, p_uncond: float,
                 device: str) -> None:
        self.table, self.batch_size, self.seed, self.p_uncond, self.device = table, batch_size, seed, p_uncond, device
        self.g = torch.Generator().manual_seed(seed + 1)
        self.batch = 0  # the batch taken next
        self._scenes: Iterator | None = None

    def __iter__(self) -> "ShapesBatches":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        from ...data.shapes import shapes_batches

        if self._scenes is None:
            self._scenes = shapes_batches(self.batch_size, self.seed, first=self.batch)
        images, texts = next(self._scenes)
        self.batch += 1
        x = to_signed(images)
        cond = torch.stack([self.table[t] for t in texts])
        cond[torch.rand(len(texts), generator=self.g) < self.p_uncond] = 0.0
        return x.to(self.device), cond.to(self.device)

    def state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        return ({"kind": "shapes", "batch_size": self.batch_size, "seed": self.seed, "batch": self.batch},
                {"rng": self.g.get_state()})

    def restore(self, info: dict, tensors: dict[str, torch.Tensor]) -> None:
        check_same("Shapes", info, kind="shapes", batch_size=self.batch_size, seed=self.seed)
        self.batch, self._scenes = int(info["batch"]), None
        self.g.set_state(tensors["rng"])


def shapes_task(encoder: PromptEncoder, *, base_channels: int = 32, batch_size: int = 64, device: str = "cpu",
                seed: int = 0, p_uncond: float = 0.1, command: str = "", data_dir: str | None = None,
                limit: int | None = None) -> TrainTask:
    """Text-conditioned diffusion on procedural Shapes scenes (32x32 RGB) with compositional captions.
    Every batch is freshly rendered, so the model never sees the same scene twice (``data_dir`` and
    ``limit`` are accepted for the common command line and mean nothing here)."""
    from ...data.shapes import all_captions

    captions = all_captions()
    table = dict(zip(captions, encoder.encode(captions)))
    unet = UNetConfig(in_channels=3, image_size=32, base_channels=base_channels)
    config = {"unet": unet.to_dict(), "schedule": ScheduleConfig().__dict__, "prediction": "epsilon",
              "text_encoder": "all-MiniLM-L6-v2", "dataset": "shapes"}
    model, schedule = build(config)

    def loss(m, batch):
        x, cond = batch
        return diffusion_loss(m, schedule, x, cond)

    preview = encoder.encode(list(SHAPES_PREVIEW))
    return TrainTask(
        family="diffusion", model=model, config=config, loss=loss,
        batches=ShapesBatches(table, batch_size, seed, p_uncond, device),
        samples=lambda ema: preview_grid(ema, schedule, preview),
        card={"data": {"dataset": "shapes (procedural, studio.core.data.shapes)", "split": "rendered afresh per batch",
                       "captions": f"{len(captions)} compositional captions", "p_uncond": p_uncond},
              "reproduce": command},
    )
