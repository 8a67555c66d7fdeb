"""Builds the video diffusion TrainTask for the shared trainer: moving Shapes clips, their captions'
packed conditions, and the given-first-frame input for image-to-video."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...clips import filmstrip
from ...data.moving_shapes import FRAMES, clip_batches
from ...data.shapes import SIZE
from ...denoising.bounds import SCHEDULES
from ...denoising.objective import PREDICTIONS, diffusion_loss, to_eps
from ...denoising.samplers import DDIMSampler
from ...denoising.schedule import ScheduleConfig
from ...denoising.unet import UNetConfig
from ...errors import CheckpointError
from ...pixels import from_signed, to_signed
from ...prompt.encoder import EMBED_DIM, PromptEncoder
from ...training.stream import check_same
from ...training.trainer import TrainTask
from .model import VideoConfig, build, given_frames, init_from_image, mixed_noise

PREVIEW = ("a red circle moves right", "a blue square moves up", "a green triangle bounces left and right",
           "a yellow diamond grows")


def clips_to_signed(videos: np.ndarray) -> torch.Tensor:
    """(N, T, H, W, C) uint8 -> (N, C, T, H, W) in [-1, 1]."""
    n, t, h, w, c = videos.shape
    return to_signed(videos.reshape(n * t, h, w, c)).view(n, t, c, h, w).transpose(1, 2).contiguous()


def clips_from_signed(x: torch.Tensor) -> np.ndarray:
    """(N, C, T, H, W) in [-1, 1] -> (N, T, H, W, C) uint8."""
    n, c, t, h, w = x.shape
    return from_signed(x.transpose(1, 2).reshape(n * t, c, h, w)).reshape(n, t, h, w, -1)


def model_config(*, frames: int = FRAMES, base_channels: int = 32, prediction: str = "epsilon",
                 schedule: str = "cosine", temporal_levels: tuple[int, ...] = (1, 2), shared_noise: float = 0.0,
                 joint_levels: tuple[int, ...] = ()) -> dict:
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; use one of {', '.join(PREDICTIONS)}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
    return {"arch": "video-unet", "schedule": ScheduleConfig(kind=schedule).__dict__, "prediction": prediction,
            "text_encoder": "all-MiniLM-L6-v2", "dataset": "moving-shapes",
            "unet": UNetConfig(in_channels=3, image_size=SIZE, base_channels=base_channels, cond_dim=EMBED_DIM,
                               context_dim=EMBED_DIM).to_dict(),
            "video": VideoConfig(frames=frames, temporal_levels=tuple(temporal_levels),
                                 joint_levels=tuple(joint_levels)).to_dict(),
            "noise": {"shared": shared_noise}}


class ClipBatches:
    """Freshly rendered moving-Shapes clips with their captions' packed conditions (a share p_uncond
    zeroed) and, for a share p_first of them, their first frame given. ``frames`` fewer than the data's
    16 keeps evenly spaced ones (the same motion at a lower frame rate). Resumable: batch b holds clips
    b*B.. of data set ``seed``; the draws come from a generator whose state is saved."""

    def __init__(self, encoder: PromptEncoder, batch_size: int, seed: int, p_uncond: float, p_first: float,
                 device: str, frames: int = FRAMES) -> None:
        if not 1 <= frames <= FRAMES:
            raise ValueError(f"clips have 1 to {FRAMES} frames, not {frames}")
        self.keep = np.linspace(0, FRAMES - 1, frames).round().astype(int)
        self.encoder, self.batch_size, self.seed = encoder, batch_size, seed
        self.p_uncond, self.p_first, self.device = p_uncond, p_first, device
        self.g = torch.Generator().manual_seed(seed + 1)
        self.batch = 0
        self._clips: Iterator | None = None

    def __iter__(self) -> "ClipBatches":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from ...data.batches import caption_conditions

        if self._clips is None:
            self._clips = clip_batches(self.batch_size, self.seed, first=self.batch)
        videos, texts = next(self._clips)
        self.batch += 1
        x = clips_to_signed(videos[:, self.keep])
        cond = caption_conditions(self.encoder, texts, tokens=True)
        cond[torch.rand(len(texts), generator=self.g) < self.p_uncond] = 0.0
        given = given_frames(x[:, :, 0], tuple(x.shape))
        given[torch.rand(len(texts), generator=self.g) >= self.p_first] = 0.0
        return x.to(self.device), cond.to(self.device), given.to(self.device)

    def state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        return ({"kind": "moving-shapes", "batch_size": self.batch_size, "seed": self.seed, "batch": self.batch},
                {"rng": self.g.get_state()})

    def restore(self, info: dict, tensors: dict[str, torch.Tensor]) -> None:
        check_same("Moving Shapes", info, kind="moving-shapes", batch_size=self.batch_size, seed=self.seed)
        self.batch, self._clips = int(info["batch"]), None
        self.g.set_state(tensors["rng"])


@torch.no_grad()
def preview_strips(model, schedule, conds: torch.Tensor, prediction: str, steps: int = 20,
                   guidance: float = 3.0, seed: int = 0, shared: float = 0.0) -> np.ndarray:
    """A quick DDIM clip per condition, as filmstrips (N, H, T*W, C), for the training previews."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    c, v = model.config, model.video
    g = torch.Generator().manual_seed(seed)
    x = mixed_noise((len(conds), c.in_channels, v.frames, c.image_size, c.image_size), shared, g).to(device)
    conds = conds.to(device)
    sampler = DDIMSampler(schedule)
    sampler.set_timesteps(steps)
    for i, t in enumerate(sampler.timesteps):
        tt = torch.full((len(x),), t, device=device, dtype=torch.long)
        o_c, o_u = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([conds, torch.zeros_like(conds)])).chunk(2)
        x = sampler.step(to_eps(o_u + guidance * (o_c - o_u), x, tt, schedule, prediction), i, x).prev_sample
    model.train(was_training)
    return filmstrip(clips_from_signed(x))


def _shape(config: dict) -> dict:
    """A video config's architecture, with defaults filled in (older checkpoints lack newer fields)."""
    return {"unet": UNetConfig.from_dict(config.get("unet", {})).to_dict(),
            "video": VideoConfig.from_dict(config.get("video", {})).to_dict()}


def video_task(encoder: PromptEncoder, *, base_channels: int = 32, batch_size: int = 8, device: str = "cpu",
               seed: int = 0, p_uncond: float = 0.1, p_first: float = 0.25, command: str = "",
               data_dir: str | None = None, limit: int | None = None, prediction: str = "epsilon",
               min_snr_gamma: float = 5.0, init: str | None = None, schedule: str = "cosine",
               frames: int = FRAMES, shared_noise: float = 0.0, joint_levels: tuple[int, ...] = ()) -> TrainTask:
    """Text-to-video diffusion on moving Shapes (16 frames of 32x32 RGB), every batch freshly rendered
    (``data_dir`` and ``limit`` mean nothing here). ``init``: an image diffusion checkpoint of the
    same U-Net (diffusion-shapes) whose weights start the image layers, or a video checkpoint to go
    on from (which may lack the space-time attention ``joint_levels`` adds: it starts as the identity).
    ``shared_noise``: the share of noise variance the frames have in common (mixed_noise)."""
    if not 0.0 <= shared_noise < 1.0:
        raise ValueError(f"shared_noise is a share of the variance, from 0 to below 1 (got {shared_noise})")
    config = model_config(frames=frames, base_channels=base_channels, prediction=prediction, schedule=schedule,
                          shared_noise=shared_noise, joint_levels=tuple(joint_levels))
    model, sched = build(config)
    joint = config["video"]["joint_levels"]
    recipe = {"arch": "space-time factorised U-Net (per-frame 2-D layers, temporal conv everywhere, temporal "
                      "attention at levels " + ", ".join(map(str, config["video"]["temporal_levels"])) +
                      (", space-time attention at levels " + ", ".join(map(str, joint)) if joint else "") + ")",
              "text": "pooled vector + token cross-attention", "prediction": prediction,
              "loss_weighting": f"min-SNR-{min_snr_gamma:g}" if min_snr_gamma else "uniform",
              "schedule": schedule, "image_to_video": f"first frame given to {p_first:.0%} of clips",
              "noise": f"mixed prior, {shared_noise:.0%} of the variance shared by all frames" if shared_noise
              else "independent per frame"}
    if init and ckpt_io.load(init).family == "video":  # a second stage: every weight goes on
        ck = ckpt_io.load(init, family="video")
        theirs, ours = _shape(ck.config), _shape(config)
        if missing := sorted(set(theirs["video"]["joint_levels"]) - set(ours["video"]["joint_levels"])):
            raise CheckpointError(f"{ck.path.name} has space-time attention at levels {missing}; go on from it "
                                  f"with --joint-levels {' '.join(map(str, theirs['video']['joint_levels']))}.")
        added = sorted(set(ours["video"]["joint_levels"]) - set(theirs["video"]["joint_levels"]))
        theirs["video"]["joint_levels"] = ours["video"]["joint_levels"]
        if theirs != ours:
            raise CheckpointError(f"{ck.path.name} is a video model of another shape; a warm start needs the same "
                                  "(it may only lack space-time attention).")
        state = ck.group("ema") or ck.group("model")
        if added:  # the new space-time attention layers start as the identity
            state = {**{k: v for k, v in model.state_dict().items() if k.startswith("joint.")}, **state}
        ckpt_io.load_state(model, state, ck.path.name)
        recipe["warm_start"] = {"checkpoint": ck.id, "sha256": ck.sha256,
                                "steps": ck.card.get("training", {}).get("steps_done"),
                                "from": ck.card.get("recipe", {}).get("warm_start"),
                                "reproduce": ck.card.get("reproduce", ""),
                                **({"added": f"space-time attention at levels {added}"} if added else {})}
    elif init:
        ck = ckpt_io.load(init, family="diffusion")
        unet = ck.config.get("unet", {})
        if {k: unet.get(k) for k in ("base_channels", "context_dim")} != {k: config["unet"][k] for k in
                                                                          ("base_channels", "context_dim")}:
            raise CheckpointError(f"{ck.path.name} is not a U-Net of this shape (base_channels "
                                  f"{config['unet']['base_channels']}, token cross-attention).")
        copied = init_from_image(model, ck.group("ema") or ck.group("model"))
        recipe["warm_start"] = {"checkpoint": ck.id, "sha256": ck.sha256, "tensors": copied,
                                "steps": ck.card.get("training", {}).get("steps_done")}

    def loss(m, batch):
        x, cond, given = batch
        return diffusion_loss(lambda x_t, t, c: m(x_t, t, c, given), sched, x, cond, prediction=prediction,
                              min_snr_gamma=min_snr_gamma, draw_noise=lambda shape, g: mixed_noise(shape, shared_noise, g))

    from ...data.batches import caption_conditions

    preview = caption_conditions(encoder, list(PREVIEW), tokens=True)
    return TrainTask(
        family="video", model=model, config=config, loss=loss,
        batches=ClipBatches(encoder, batch_size, seed, p_uncond, p_first, device, frames),
        samples=lambda ema: preview_strips(ema, sched, preview, prediction, shared=shared_noise),
        card={"data": {"dataset": "moving-shapes (procedural, studio.core.data.moving_shapes)",
                       "split": "rendered afresh per batch", "frames": frames, "p_uncond": p_uncond},
              "recipe": recipe, "reproduce": command},
    )
