"""Diffusion family: a text-conditioned U-Net denoiser, DDPM training, sampling (DDPM, DDIM,
DPM-Solver++, Euler/Heun on Karras sigmas) with classifier-free guidance (Ho & Salimans 2022).
A checkpoint with an "autoencoder" section is latent diffusion (Rombach et al. 2022): it samples in
its autoencoder's latent and shows pixels through the decoder (studio.core.families.diffusion.latent)."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...accel import Accel
from ...denoising.samplers import Sampler, continuing, make_sampler, noise_level
from ...errors import StudioError
from ...events import Frame
from ...pixels import from_signed, to_signed
from ...prompt.blend import embed_prompts
from ...prompt.encoder import PromptEncoder, shared_encoder
from ...request import GenerationRequest, image_generators
from ..base import EvalSetup, Family, ImageFormat, register
from .latent import LatentSpace
from .model import build, to_eps

LATENT_PREVIEWS = ("decode", "linear")  # how a latent model shows its per-step predictions


@register
class DiffusionFamily(Family):
    name = "diffusion"  # label, controls, samplers and img2img come from its CATALOG entry

    def __init__(self, checkpoint: ckpt_io.Checkpoint, device: str = "cpu",
                 encoder: PromptEncoder | None = None, accel: Accel | None = None,
                 latent_preview: str = "decode") -> None:
        """``latent_preview`` (latent models): the per-step previews decode the predicted clean latent
        ("decode") or map it linearly ("linear", no decoder pass); the final image always decodes."""
        super().__init__(checkpoint, device)
        if latent_preview not in LATENT_PREVIEWS:
            raise ValueError(f"latent_preview must be one of {', '.join(LATENT_PREVIEWS)}, not {latent_preview!r}")
        self.latent_preview = latent_preview
        self.latent_space: LatentSpace | None = None  # latent diffusion: the autoencoder it samples through
        if "autoencoder" in checkpoint.config:
            self.latent_space = LatentSpace.from_checkpoint(checkpoint, device)
        self.model, self.schedule = build(checkpoint.config)
        weights = checkpoint.group("ema") or checkpoint.group("model")
        ckpt_io.load_state(self.model, weights, checkpoint.path.name)
        self.model.to(device).eval()
        self.accel = accel if accel is not None else Accel.default_for(device)
        self._denoiser = self.accel.prepare(self.model, device)  # the model, or its compiled form
        self._encoder = encoder
        self.prediction = checkpoint.config.get("prediction", "epsilon")

    @property
    def encoder(self) -> PromptEncoder | None:
        if self.conditional and self._encoder is None:
            self._encoder = shared_encoder()
        return self._encoder if self.conditional else None

    @property
    def image_format(self) -> ImageFormat:
        """The pixels shown: a latent model's are its autoencoder's, not the denoiser's latent."""
        if self.latent_space is not None:
            size, channels = self.latent_space.image_size, self.latent_space.channels
        else:
            size, channels = self.model.config.image_size, self.model.config.in_channels
        return ImageFormat(size, size, channels, "rgb" if channels == 3 else "grey")

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """What the sampler draws: the latent's shape, or the image's for a pixel model."""
        if self.latent_space is not None:
            return self.latent_space.latent_shape
        c = self.model.config
        return c.in_channels, c.image_size, c.image_size

    def _pixels(self, x: torch.Tensor, *, final: bool = False, cheap: bool = False) -> np.ndarray:
        """A sample (or prediction) as uint8 pixels: a latent one decoded, or with ``cheap`` (never the
        final image) mapped linearly."""
        if self.latent_space is None:
            return from_signed(x)
        if cheap and not final:
            return from_signed(self.latent_space.preview(x))
        return from_signed(self.latent_space.decode(x))

    @property
    def conditional(self) -> bool:
        return self.model.config.cond_dim > 0

    @property
    def reads_tokens(self) -> bool:
        """Whether the denoiser cross-attends to the prompt's tokens (else it reads the pooled vector)."""
        return getattr(self.model.config, "context_dim", 0) > 0

    def eval_setup(self, *, steps: int = 50, sampler: str = "", guidance: float = 3.0) -> EvalSetup:
        req = self.default_request().with_(steps=steps, sampler=sampler or "ddim", guidance=guidance)
        return EvalSetup(req, {"sampler": req.sampler, "steps": steps, "guidance": guidance})

    @classmethod
    def train_task(cls, dataset: str, **options):
        from .train import fashion_mnist_task, latent_task, shapes_task

        tasks = {"fashion-mnist": fashion_mnist_task, "shapes": shapes_task,
                 "fashion-mnist-latent": partial(latent_task, dataset="fashion-mnist"),
                 "shapes-latent": partial(latent_task, dataset="shapes")}  # in a trained autoencoder's latent
        if dataset not in tasks:
            raise StudioError(f"Unknown data set {dataset!r}; the diffusion trainer knows: {', '.join(tasks)}.")
        if dataset.endswith("-latent") != ("autoencoder" in options):
            raise StudioError("An autoencoder (--autoencoder FILE from 'genstudio train autoencoder') is given "
                              "for the latent data sets (fashion-mnist-latent, shapes-latent), and only for them.")
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
                out = self._denoiser(self.accel.inputs(x), tt, None).float()
            elif uncond is None or guidance == 1.0:
                out = self._denoiser(self.accel.inputs(x), tt, cond).float()
            else:
                both = self._denoiser(self.accel.inputs(torch.cat([x, x])), torch.cat([tt, tt]),
                                      torch.cat([cond, uncond])).float()
                o_c, o_u = both.chunk(2)
                out = o_u + guidance * (o_c - o_u)  # linear in the output, so in epsilon too
        return to_eps(out, x, tt, self.schedule, self.prediction)

    def frames(self, req: GenerationRequest, init: np.ndarray | None, want_noisy: bool) -> Iterator[Frame]:
        return self._run(req, init, want_noisy)

    def debug_frames(self, request: GenerationRequest, *, init: np.ndarray | None = None, want_noisy: bool = False,
                     resume: RunState | None = None) -> Iterator[Frame]:
        """``sample``, each Frame carrying the RunState it leaves (``frame.state``), from ``resume`` on if
        given: a state one of these frames carried, for a request that agrees with that run up to its step."""
        req = self.resolve(request)
        return self._run(req, self.check_init(req, init), want_noisy, resume=resume, keep_state=True)

    def _conditions(self, prompt: str, negative: str, n: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if not self.conditional:
            return None, None
        embs = embed_prompts(self.encoder, [prompt, negative], tokens=self.reads_tokens).to(self.device)
        cond, uncond = (embs[i : i + 1].expand(n, *embs.shape[1:]) for i in (0, 1))
        if not prompt.strip() and not negative.strip():
            uncond = None  # unconditional: one pass through the null embedding
        return cond, uncond

    def _run(self, req: GenerationRequest, init: np.ndarray | None, want_noisy: bool,
             resume: RunState | None = None, keep_state: bool = False) -> Iterator[Frame]:
        n = req.batch_size
        shape = self.sample_shape
        gens = image_generators(req.seed, n)
        if resume is not None:
            done, i, total = resume.done, resume.index, resume.total
            x, sampler = resume.x.clone(), copy.copy(resume.sampler)
            for g, rng in zip(gens, resume.rng):
                g.set_state(rng)
        else:
            sampler = make_sampler(req.sampler, self.schedule, req.eta)
            sampler.set_timesteps(req.steps)
            start = 0
            if req.init_image:
                # SDEdit (Meng et al. 2022): noise the input to the level of the strength's timestep, then
                # run the rest of the schedule; strength 0 runs no step and returns the input itself.
                pixels = to_signed(init[None]).to(self.device).expand(n, -1, -1, -1)
                start = len(sampler.timesteps) - round(req.strength * len(sampler.timesteps))
                if start == len(sampler.timesteps):
                    yield Frame(1, 1, from_signed(pixels), final=True)
                    return
                x0 = pixels
                if self.latent_space is not None:  # the encoder's posterior mean, scaled
                    x0 = self.latent_space.encode(pixels[:1]).expand(n, -1, -1, -1)
                x = sampler.add_noise(x0, start, self._noise(gens, shape))
            else:
                x = self._noise(gens, shape)
            done, i, total = 0, start, len(sampler.timesteps) - start
        conditions: dict[tuple[str, str], tuple] = {}  # mid-run prompt edits: each pair embedded once
        while done < total:
            # Mid-run edits (the step debugger): from ``done`` steps on, these settings hold.
            now = req.settings_at(done)
            if "sampler" in req.edits_at(done):  # the rest of the run, from the current noise level
                sampler = continuing(now["sampler"], self.schedule, noise_level(sampler, i), total - done, req.eta)
                i = 0
            key = (now["prompt"], now["negative_prompt"])
            if key not in conditions:
                conditions[key] = self._conditions(*key, n)
            cond, uncond = conditions[key]

            def model(x_t: torch.Tensor, t: int, cond=cond, uncond=uncond, guidance=now["guidance"]) -> torch.Tensor:
                return self.eps(x_t, t, cond, uncond, guidance)  # also a sampler's further evaluations (Heun)

            e = model(x, sampler.timesteps[i])
            last = done == total - 1
            noise = None
            if sampler.stochastic and not last:
                noise = self._noise(gens, shape)
            out = sampler.step(e, i, x, noise, model=model)
            x = out.prev_sample
            done, i = done + 1, i + 1
            linear = self.latent_preview == "linear"
            state = None
            if keep_state:  # samplers rebind (never mutate) their history, so a shallow copy keeps it
                state = RunState(done, i, total, x.clone(), copy.copy(sampler), [g.get_state() for g in gens])
            yield Frame(done, total, self._pixels(x if last else out.pred_x0, final=last, cheap=linear),
                        self._pixels(x, cheap=True) if want_noisy else None, final=last, state=state)


@dataclass(frozen=True)
class RunState:
    """Where a run stands after ``done`` of its ``total`` steps: enough to go on from there exactly."""

    done: int
    index: int  # the sampler's step index (it restarts at 0 when a mid-run edit changes the sampler)
    total: int
    x: torch.Tensor
    sampler: Sampler
    rng: list[torch.Tensor]  # each image's generator state (stochastic samplers draw more noise)

    @property
    def nbytes(self) -> int:
        history = getattr(self.sampler, "_prev_x0", None)
        tensors = [self.x, *self.rng] + ([history] if history is not None else [])
        return sum(t.numel() * t.element_size() for t in tensors)
