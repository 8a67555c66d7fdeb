"""Builds the diffusion TrainTask for the shared trainer."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...data import fashion_mnist
from ...data.batches import CaptionTable, caption_conditions, captioned_batches
from ...denoising.bounds import SCHEDULES
from ...denoising.samplers import DDIMSampler
from ...denoising.schedule import ScheduleConfig
from ...denoising.unet import UNetConfig
from ...errors import CheckpointError, StudioError
from ...pixels import from_signed, to_signed
from ...prompt.encoder import EMBED_DIM, PromptEncoder
from ...training.stream import Mapped, check_same
from ...training.trainer import TrainTask
from .autoencoder import autoencoder_state
from .latent import PREFIX, LatentSpace
from .model import ARCHS, PREDICTIONS, build, diffusion_loss, to_eps


def preview_grid(model, schedule, conds: torch.Tensor, steps: int = 20, guidance: float = 3.0,
                 seed: int = 0, prediction: str = "epsilon", decode=None) -> np.ndarray:
    """A quick DDIM sample per condition row, used for training previews; ``decode`` maps a latent
    model's samples to pixels in [-1, 1] terms."""
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
            tt = torch.full((len(x),), t, device=device, dtype=torch.long)
            o_c, o_u = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([conds, torch.zeros_like(conds)])).chunk(2)
            e = to_eps(o_u + guidance * (o_c - o_u), x, tt, schedule, prediction)
            x = sampler.step(e, i, x).prev_sample
    model.train(was_training)
    return from_signed(x if decode is None else decode(x))


def model_config(*, dataset: str, in_channels: int, image_size: int, arch: str = "unet", base_channels: int = 32,
                 tokens: bool = False, prediction: str = "epsilon", hidden: int = 128, depth: int = 6,
                 patch_size: int = 2, schedule: str = "cosine") -> dict:
    """The checkpoint config of a text-conditioned denoiser: ``arch`` 'unet' or 'dit'; ``tokens``: it
    cross-attends to the prompt's token embeddings besides reading the pooled vector; ``schedule``: the
    noise schedule's kind, 'cosine' or 'linear'."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHS)}")
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; use one of {', '.join(PREDICTIONS)}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
    context_dim = EMBED_DIM if tokens else 0
    config: dict = {"arch": arch, "schedule": ScheduleConfig(kind=schedule).__dict__, "prediction": prediction,
                    "text_encoder": "all-MiniLM-L6-v2", "dataset": dataset}
    if arch == "dit":
        from .dit import DiTConfig

        config["dit"] = DiTConfig(in_channels=in_channels, image_size=image_size, patch_size=patch_size,
                                  hidden=hidden, depth=depth, cond_dim=EMBED_DIM, context_dim=context_dim).to_dict()
    else:
        config["unet"] = UNetConfig(in_channels=in_channels, image_size=image_size, base_channels=base_channels,
                                    cond_dim=EMBED_DIM, context_dim=context_dim).to_dict()
    return config


def warm_start(model: torch.nn.Module, config: dict, path: str) -> dict:
    """Start from a trained checkpoint's EMA weights: every tensor the new model shares with it is
    copied; layers it lacks (cross-attention added to a pooled-vector model) keep their initialisation,
    whose zeroed output projections make the new model compute exactly what the old one did. Returns
    what the card records of the start."""
    from ... import checkpoint as ckpt_io
    from ...errors import CheckpointError

    ck = ckpt_io.load(path, family="diffusion")
    for key in ("arch", "prediction", "schedule"):
        if ck.config.get(key, {"arch": "unet", "prediction": "epsilon"}.get(key)) != config[key]:
            raise CheckpointError(f"{ck.path.name} has {key} {ck.config.get(key)!r}, this run {config[key]!r}: "
                                  "a warm start needs the same.")
    old = ck.group("ema") or ck.group("model")
    state = model.state_dict()
    mismatched = [k for k, v in old.items() if k not in state or state[k].shape != v.shape]
    if mismatched:
        raise CheckpointError(f"{ck.path.name} does not fit this model (first of {len(mismatched)}: {mismatched[0]}).")
    state.update(old)
    model.load_state_dict(state)
    steps = ck.card.get("training", {}).get("steps_done")
    return {"checkpoint": ck.id, "sha256": ck.sha256, "steps": steps, "new_tensors": sum(k not in old for k in state),
            "reproduce": ck.card.get("reproduce", "")}


def _recipe_card(config: dict, min_snr_gamma: float) -> dict:
    """What the card says of the recipe: the backbone, what it reads of the prompt, the objective."""
    return {"arch": config["arch"], "text": "pooled vector + token cross-attention"
            if (config.get("unet") or config.get("dit"))["context_dim"] else "pooled vector",
            "prediction": config["prediction"], "loss_weighting": f"min-SNR-{min_snr_gamma:g}" if min_snr_gamma
            else "uniform", "schedule": config["schedule"]["kind"]}


def fashion_mnist_task(encoder: PromptEncoder, *, base_channels: int = 32, batch_size: int = 128,
                       data_dir: str | None = None, limit: int | None = None, device: str = "cpu",
                       seed: int = 0, p_uncond: float = 0.1, command: str = "", arch: str = "unet",
                       tokens: bool = False, prediction: str = "epsilon", min_snr_gamma: float = 0.0,
                       hidden: int = 128, depth: int = 6, init: str | None = None,
                       schedule: str = "cosine") -> TrainTask:
    split = fashion_mnist.load("train", data_dir, limit=limit)
    table = CaptionTable(fashion_mnist.all_captions(), encoder, tokens=tokens)
    config = model_config(dataset="fashion-mnist", in_channels=1, image_size=28, arch=arch,
                          base_channels=base_channels, tokens=tokens, prediction=prediction, hidden=hidden, depth=depth,
                          schedule=schedule)
    model, schedule = build(config)
    recipe = _recipe_card(config, min_snr_gamma)
    if init:
        recipe["warm_start"] = warm_start(model, config, init)
    class_prompts = caption_conditions(encoder, [syn[0] for syn in fashion_mnist.SYNONYMS], tokens)

    def loss(m, batch):
        x, cond = batch
        return diffusion_loss(m, schedule, x, cond, prediction=prediction, min_snr_gamma=min_snr_gamma)

    return TrainTask(
        family="diffusion", model=model, config=config, loss=loss,
        batches=captioned_batches(split.images, split.labels, table, batch_size, p_uncond=p_uncond,
                                  device=device, seed=seed),
        samples=lambda ema: preview_grid(ema, schedule, class_prompts, prediction=prediction),
        card={"data": {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)),
                       "captions": "templates x class synonyms (studio.core.data.fashion_mnist)",
                       "p_uncond": p_uncond},
              "recipe": recipe, "reproduce": command},
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
                limit: int | None = None, arch: str = "unet", tokens: bool = False, prediction: str = "epsilon",
                min_snr_gamma: float = 0.0, hidden: int = 128, depth: int = 6, init: str | None = None,
                schedule: str = "cosine") -> TrainTask:
    """Text-conditioned diffusion on procedural Shapes scenes (32x32 RGB) with compositional captions.
    Every batch is freshly rendered, so the model never sees the same scene twice (``data_dir`` and
    ``limit`` are accepted for the common command line and mean nothing here)."""
    from ...data.shapes import all_captions

    captions = all_captions()
    table = dict(zip(captions, caption_conditions(encoder, captions, tokens)))
    config = model_config(dataset="shapes", in_channels=3, image_size=32, arch=arch, base_channels=base_channels,
                          tokens=tokens, prediction=prediction, hidden=hidden, depth=depth, schedule=schedule)
    model, schedule = build(config)
    recipe = _recipe_card(config, min_snr_gamma)
    if init:
        recipe["warm_start"] = warm_start(model, config, init)

    def loss(m, batch):
        x, cond = batch
        return diffusion_loss(m, schedule, x, cond, prediction=prediction, min_snr_gamma=min_snr_gamma)

    preview = caption_conditions(encoder, list(SHAPES_PREVIEW), tokens)
    return TrainTask(
        family="diffusion", model=model, config=config, loss=loss,
        batches=ShapesBatches(table, batch_size, seed, p_uncond, device),
        samples=lambda ema: preview_grid(ema, schedule, preview, prediction=prediction),
        card={"data": {"dataset": "shapes (procedural, studio.core.data.shapes)", "split": "rendered afresh per batch",
                       "captions": f"{len(captions)} compositional captions", "p_uncond": p_uncond},
              "recipe": recipe, "reproduce": command},
    )


# --- latent diffusion (Rombach et al. 2022) -------------------------------------------------------
LATENT_UNET = {"channel_mult": (1, 2), "attention_levels": (1,)}  # 7x7 -> 4x4, attention at 4x4 (and the middle)
LATENT_DATA = {"fashion-mnist": (1, 28), "shapes": (3, 32)}  # the pixels each data set's autoencoder reads


def load_latent_space(path: str, dataset: str, device: str) -> tuple[LatentSpace, ckpt_io.Checkpoint]:
    """The autoencoder of ``genstudio train autoencoder`` (family "autoencoder"), checked against the
    data set's images."""
    ck = ckpt_io.load(path)
    if ck.family != "autoencoder" and ck.config.get("kind") != "autoencoder":
        raise CheckpointError(f"{ck.path.name} holds a {ck.family} model, not an autoencoder "
                              "(make one with 'genstudio train autoencoder').")
    space = LatentSpace.from_checkpoint(ck, device, prefix=None)
    if (space.channels, space.image_size) != LATENT_DATA[dataset]:
        channels, size = LATENT_DATA[dataset]
        raise CheckpointError(f"{ck.path.name} reads {space.image_size}x{space.image_size} images with "
                              f"{space.channels} channel(s); {dataset} has {size}x{size} with {channels}.")
    return space, ck


def encode_images(space: LatentSpace, images: np.ndarray, chunk: int = 1024) -> torch.Tensor:
    """Every image's scaled posterior mean, on the CPU: encoded once, before training, in chunks
    (no grad), so the denoiser trains on fixed latents and the encoder costs nothing per step."""
    return torch.cat([space.encode(to_signed(images[i:i + chunk])).cpu() for i in range(0, len(images), chunk)])


def latent_task(encoder: PromptEncoder, *, autoencoder: str, dataset: str = "fashion-mnist",
                base_channels: int = 64, batch_size: int = 128, data_dir: str | None = None,
                limit: int | None = None, device: str = "cpu", seed: int = 0, p_uncond: float = 0.1,
                command: str = "", arch: str = "unet", tokens: bool = False, prediction: str = "epsilon",
                min_snr_gamma: float = 0.0, hidden: int = 128, depth: int = 6, patch_size: int = 1,
                init: str | None = None, schedule: str = "cosine") -> TrainTask:
    """Text-conditioned diffusion in the latent of a trained autoencoder (Fashion-MNIST 28x28 -> 4x7x7,
    Shapes 32x32 -> 4x8x8), with fashion_mnist_task's and shapes_task's captions and options. The
    shipped file is a latent diffusion checkpoint: the EMA denoiser plus the autoencoder, embedded."""
    if dataset not in LATENT_DATA:
        raise StudioError(f"Unknown data set {dataset!r}; latent diffusion knows: {', '.join(LATENT_DATA)}.")
    space, ae_ck = load_latent_space(autoencoder, dataset, device)
    c_lat, side, _ = space.latent_shape
    config = model_config(dataset=dataset, in_channels=c_lat, image_size=side, arch=arch,
                          base_channels=base_channels, tokens=tokens, prediction=prediction, hidden=hidden,
                          depth=depth, patch_size=patch_size, schedule=schedule)
    if arch == "unet":  # two levels suit a 7x7 or 8x8 latent (the pixel default has three)
        config["unet"].update(LATENT_UNET)
    config["autoencoder"] = space.autoencoder.config.to_dict()
    model, schedule = build(config)
    recipe = _recipe_card(config, min_snr_gamma)
    if init:
        recipe["warm_start"] = warm_start(model, config, init)

    if dataset == "fashion-mnist":
        split = fashion_mnist.load("train", data_dir, limit=limit)
        table = CaptionTable(fashion_mnist.all_captions(), encoder, tokens=tokens)
        batches = captioned_batches(None, split.labels, table, batch_size, p_uncond=p_uncond, device=device,
                                    seed=seed, signed=encode_images(space, split.images))
        preview = caption_conditions(encoder, [syn[0] for syn in fashion_mnist.SYNONYMS], tokens)
        data = {"dataset": "fashion-mnist", "split": "train", "images": int(len(split.images)),
                "captions": "templates x class synonyms (studio.core.data.fashion_mnist)", "p_uncond": p_uncond,
                "encoded": "once before training: posterior means x scale"}
    else:
        from ...data.shapes import all_captions

        captions = all_captions()
        table_s = dict(zip(captions, caption_conditions(encoder, captions, tokens)))
        # Scenes are rendered afresh per batch, so they are encoded per batch (the encoder is small).
        batches = Mapped(ShapesBatches(table_s, batch_size, seed, p_uncond, device),
                         lambda b: (space.encode(b[0]).to(b[0].device), b[1]))
        preview = caption_conditions(encoder, list(SHAPES_PREVIEW), tokens)
        data = {"dataset": "shapes (procedural, studio.core.data.shapes)", "split": "rendered afresh per batch",
                "captions": f"{len(captions)} compositional captions", "p_uncond": p_uncond,
                "encoded": "per batch: posterior means x scale"}

    def loss(m, batch):
        x, cond = batch
        return diffusion_loss(m, schedule, x, cond, prediction=prediction, min_snr_gamma=min_snr_gamma)

    def finalize(ema) -> dict[str, torch.Tensor]:  # the autoencoder travels inside the checkpoint
        return autoencoder_state(space.autoencoder, space.scale, space.preview_weight, space.preview_bias, PREFIX)

    return TrainTask(
        family="diffusion", model=model, config=config, loss=loss, batches=batches, finalize=finalize,
        samples=lambda ema: preview_grid(ema, schedule, preview, prediction=prediction, decode=space.decode),
        card={"data": data, "recipe": recipe,
              "latent": {"autoencoder": ae_ck.id, "sha256": ae_ck.sha256, "shape": list(space.latent_shape),
                         "scale": round(float(space.scale), 6)},
              "reproduce": command},
    )
