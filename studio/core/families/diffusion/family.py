"""Diffusion family: a text-conditioned U-Net denoiser, DDPM training, DDPM/DDIM sampling with
classifier-free guidance (Ho & Salimans 2022)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...device import to_uint8
from ...errors import StudioError
from ...events import Frame
from ...prompt.blend import embed_prompts
from ...prompt.encoder import PromptEncoder, shared_encoder
from ...request import GenerationRequest
from ..base import Family, register
from .samplers import make_sampler
from .schedule import NoiseSchedule, ScheduleConfig
from .unet import UNet, UNetConfig


def build(config: dict) -> tuple[UNet, NoiseSchedule]:
    unet_cfg = UNetConfig.from_dict(config.get("unet", {}))
    schedule = NoiseSchedule(ScheduleConfig(**config.get("schedule", {})))
    return UNet(unet_cfg), schedule


def diffusion_loss(model: UNet, schedule: NoiseSchedule, x0: torch.Tensor, cond: torch.Tensor | None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Simple DDPM objective: MSE between the true and the predicted noise at a uniform timestep."""
    t = torch.randint(0, schedule.num_train_timesteps, (x0.shape[0],), device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, generator=generator)
    eps = model(schedule.q_sample(x0, t, noise), t, cond)
    return torch.nn.functional.mse_loss(eps.float(), noise)


@register
class DiffusionFamily(Family):
    name = "diffusion"  # label, controls, samplers and img2img come from its CATALOG entry

    def __init__(self, checkpoint: ckpt_io.Checkpoint, device: str = "cpu",
                 encoder: PromptEncoder | None = None) -> None:
        super().__init__(checkpoint, device)
        self.model, self.schedule = build(checkpoint.config)
        weights = checkpoint.group("ema") or checkpoint.group("model")
        ckpt_io.load_state(self.model, weights, checkpoint.path.name)
        self.model.to(device).eval()
        self.encoder = encoder or shared_encoder()

    @classmethod
    def from_checkpoint(cls, path: Path, device: str = "cpu", encoder: PromptEncoder | None = None):
        return cls(ckpt_io.load(path, family=cls.name), device, encoder)

    @property
    def image_size(self) -> tuple[int, int]:
        s = self.model.config.image_size
        return s, s

    @property
    def channels(self) -> int:
        return self.model.config.in_channels

    @property
    def conditional(self) -> bool:
        return self.model.config.cond_dim > 0

    @classmethod
    def train_task(cls, dataset: str, **options):
        from .train import fashion_mnist_task, shapes_task

        tasks = {"fashion-mnist": fashion_mnist_task, "shapes": shapes_task}
        if dataset not in tasks:
            raise StudioError(f"Unknown data set {dataset!r}; the diffusion trainer knows: {', '.join(tasks)}.")
        return tasks[dataset](**options)

    def _noise(self, gens: list[torch.Generator], shape: tuple[int, ...]) -> torch.Tensor:
        # One generator per image: image i of a batch with seed s is image 0 of seed s + i.
        return torch.stack([torch.randn(shape, generator=g) for g in gens]).to(self.device)

    @torch.no_grad()
    def eps(self, x: torch.Tensor, t: int, cond: torch.Tensor | None, uncond: torch.Tensor | None,
            guidance: float) -> torch.Tensor:
        tt = torch.full((x.shape[0],), t, device=self.device, dtype=torch.long)
        if cond is None:
            return self.model(x, tt, None)
        if uncond is None or guidance == 1.0:
            return self.model(x, tt, cond)
        both = self.model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([cond, uncond]))
        e_c, e_u = both.chunk(2)
        return e_u + guidance * (e_c - e_u)

    def sample(self, request: GenerationRequest, *, want_noisy: bool = False) -> Iterator[Frame]:
        req = self.checked(request)
        n = req.batch_size
        cond = uncond = None
        if self.conditional:
            embs = embed_prompts(self.encoder, [req.prompt, req.negative_prompt]).to(self.device)
            cond, uncond = embs[0:1].expand(n, -1), embs[1:2].expand(n, -1)
            if not req.prompt.strip() and not req.negative_prompt.strip():
                uncond = None  # unconditional: one pass through the null embedding
        sampler = make_sampler(req.sampler, self.schedule, req.eta)
        sampler.set_timesteps(req.steps)
        c = self.model.config
        shape = (c.in_channels, c.image_size, c.image_size)
        gens = [torch.Generator().manual_seed(req.seed + i) for i in range(n)]
        start = 0
        if req.init_image:
            # SDEdit (Meng et al. 2022): noise the input to the level of the strength's timestep, then
            # run the rest of the schedule; strength 0 runs no step and returns the input itself.
            x0 = self.init_tensor(req.init_image).expand(n, -1, -1, -1)
            start = len(sampler.timesteps) - round(req.strength * len(sampler.timesteps))
            if start == len(sampler.timesteps):
                yield Frame(1, 1, to_uint8(x0), final=True)
                return
            t0 = torch.full((n,), sampler.timesteps[start], dtype=torch.long, device=self.device)
            x = self.schedule.q_sample(x0, t0, self._noise(gens, shape))
        else:
            x = self._noise(gens, shape)
        total = len(sampler.timesteps) - start
        for k, i in enumerate(range(start, len(sampler.timesteps))):
            t = sampler.timesteps[i]
            e = self.eps(x, t, cond, uncond, req.guidance)
            last = k == total - 1
            noise = None
            if sampler.stochastic and not last:
                noise = self._noise(gens, shape)
            out = sampler.step(e, i, x, noise)
            x = out.prev_sample
            yield Frame(k + 1, total, to_uint8(x if last else out.pred_x0),
                        to_uint8(x) if want_noisy else None, final=last)

    def init_tensor(self, h: str) -> torch.Tensor:
        """The stored input image as the model's (1, C, H, W) in [-1, 1]."""
        from ....store.inputs import load_input

        c = self.model.config
        image = load_input(h)
        if image.shape != (c.image_size, c.image_size, c.in_channels):
            raise StudioError(f"The input image is {image.shape[1]}x{image.shape[0]} with {image.shape[2]} channel(s); "
                              f"{self.checkpoint.id} works on {c.image_size}x{c.image_size} with {c.in_channels}: "
                              "drop the image again with this model selected.")
        return (torch.from_numpy(image.copy()).float().permute(2, 0, 1)[None] / 127.5 - 1.0).to(self.device)

    def generate(self, request: GenerationRequest) -> np.ndarray:
        """Run to the end and return the final (B, H, W, C) images."""
        frame = None
        for frame in self.sample(request):
            pass
        return frame.preview
