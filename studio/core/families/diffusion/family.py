"""Diffusion family: a text-conditioned U-Net denoiser, DDPM training, sampling (DDPM, DDIM,
DPM-Solver++, Euler/Heun on Karras sigmas) with classifier-free guidance (Ho & Salimans 2022)."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...accel import Accel
from ...errors import StudioError
from ...events import Frame
from ...pixels import from_signed, to_signed
from ...prompt.blend import embed_prompts
from ...prompt.encoder import PromptEncoder, shared_encoder
from ...request import GenerationRequest, image_generators
from ..base import EvalSetup, Family, ImageFormat, register
from .model import build
from .samplers import make_sampler


@register
class DiffusionFamily(Family):
    name = "diffusion"  # label, controls, samplers and img2img come from its CATALOG entry

    def __init__(self, checkpoint: ckpt_io.Checkpoint, device: str = "cpu",
                 encoder: PromptEncoder | None = None, accel: Accel | None = None) -> None:
        super().__init__(checkpoint, device)
        self.model, self.schedule = build(checkpoint.config)
        weights = checkpoint.group("ema") or checkpoint.group("model")
        ckpt_io.load_state(self.model, weights, checkpoint.path.name)
        self.model.to(device).eval()
        self.accel = accel if accel is not None else Accel.default_for(device)
        self._denoiser = self.accel.prepare(self.model, device)  # the model, or its compiled form
        self._encoder = encoder

    @property
    def encoder(self) -> PromptEncoder | None:
        if self.conditional and self._encoder is None:
            self._encoder = shared_encoder()
        return self._encoder if self.conditional else None

    @property
    def image_format(self) -> ImageFormat:
        c = self.model.config
        return ImageFormat(c.image_size, c.image_size, c.in_channels, "rgb" if c.in_channels == 3 else "grey")

    @property
    def conditional(self) -> bool:
        return self.model.config.cond_dim > 0

    def eval_setup(self, *, steps: int = 50, sampler: str = "", guidance: float = 3.0) -> EvalSetup:
        req = self.default_request().with_(steps=steps, sampler=sampler or "ddim", guidance=guidance)
        return EvalSetup(req, {"sampler": req.sampler, "steps": steps, "guidance": guidance})

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
        with self.accel.autocast(self.device):  # bf16 on the GPU; the sampler's arithmetic stays float32
            if cond is None:
                return self._denoiser(self.accel.inputs(x), tt, None).float()
            if uncond is None or guidance == 1.0:
                return self._denoiser(self.accel.inputs(x), tt, cond).float()
            both = self._denoiser(self.accel.inputs(torch.cat([x, x])), torch.cat([tt, tt]), torch.cat([cond, uncond]))
        e_c, e_u = both.float().chunk(2)
        return e_u + guidance * (e_c - e_u)

    def frames(self, req: GenerationRequest, init: np.ndarray | None, want_noisy: bool) -> Iterator[Frame]:
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
        gens = image_generators(req.seed, n)
        start = 0
        if req.init_image:
            # SDEdit (Meng et al. 2022): noise the input to the level of the strength's timestep, then
            # run the rest of the schedule; strength 0 runs no step and returns the input itself.
            x0 = to_signed(init[None]).to(self.device).expand(n, -1, -1, -1)
            start = len(sampler.timesteps) - round(req.strength * len(sampler.timesteps))
            if start == len(sampler.timesteps):
                yield Frame(1, 1, from_signed(x0), final=True)
                return
            x = sampler.add_noise(x0, start, self._noise(gens, shape))
        else:
            x = self._noise(gens, shape)
        total = len(sampler.timesteps) - start

        def model(x_t: torch.Tensor, t: int) -> torch.Tensor:  # a sampler's further evaluations (Heun)
            return self.eps(x_t, t, cond, uncond, req.guidance)

        for k, i in enumerate(range(start, len(sampler.timesteps))):
            e = model(x, sampler.timesteps[i])
            last = k == total - 1
            noise = None
            if sampler.stochastic and not last:
                noise = self._noise(gens, shape)
            out = sampler.step(e, i, x, noise, model=model)
            x = out.prev_sample
            yield Frame(k + 1, total, from_signed(x if last else out.pred_x0),
                        from_signed(x) if want_noisy else None, final=last)
