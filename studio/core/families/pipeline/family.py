"""The pipeline family: a Stable Diffusion 1.x/2.x model the user brings (a diffusers folder or a single
.safetensors file), sampled by the studio's own samplers (studio.core.denoising.samplers) on the
model's U-Net and its scheduler's betas, with classifier-free guidance (Ho & Salimans 2022) against
the negative prompt, image-to-image by SDEdit (Meng et al. 2022), and a live preview of every step's
predicted clean latent. Width and height are the request's (multiples of the VAE's 8 pixels)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from ...catalog import CATALOG
from ...checkpoint import Checkpoint
from ...denoising.objective import to_eps
from ...denoising.samplers import make_sampler
from ...denoising.schedule import NoiseSchedule, ScheduleConfig
from ...errors import RequestError, StudioError
from ...events import Frame
from ...pixels import content_hash, from_signed, to_signed
from ...prompt.blend import parse_blend
from ...request import GenerationRequest, image_generators
from ..base import Family, ImageFormat, register
from .components import load_components
from .preview import SD_LATENT_RGB, linear_rgb
from .sources import PipelineSource, default_id, describe
from .sources import content_hash as pipeline_hash

PREVIEWS = CATALOG["pipeline"].preview_modes  # how each step's predicted latent is shown; the final image decodes
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
GUIDANCE = 7.0  # the usual CFG scale of SD models (AUTOMATIC1111's default)


@dataclass
class PipelineCheckpoint(Checkpoint):
    """A pipeline on disk in the place of a studio checkpoint file: its id is the name it was added
    under, its hash covers the files loading reads (computed on first use: seconds for gigabytes)."""

    source: PipelineSource | None = None
    model_id: str = ""
    file_sha256: Callable[[Path], str] | None = None  # a cached sha256 of one file (the store keeps one)

    @property
    def id(self) -> str:
        return self.model_id or default_id(self.path)

    @cached_property
    def sha256(self) -> str:
        return pipeline_hash(self.source, self.file_sha256)


def _check_preview(mode: str, every: int) -> None:
    if mode not in PREVIEWS:
        raise ValueError(f"preview must be one of {', '.join(PREVIEWS)}, not {mode!r}")
    if not (isinstance(every, int) and not isinstance(every, bool) and every >= 1):
        raise ValueError(f"a preview is made every whole number of steps, at least 1 (got {every!r})")


@register
class PipelineFamily(Family):
    name = "pipeline"  # label, controls (with "size"), samplers and img2img come from its CATALOG entry

    def __init__(self, checkpoint: PipelineCheckpoint, device: str = "cpu", *, preview: str = "linear",
                 decode_every: int = 1, dtype: str | None = None) -> None:
        """``preview``: each step shows its predicted clean latent mapped linearly to colours ("linear", no
        decoder pass) or decoded by the VAE ("decode") every ``decode_every`` steps (the last decoded one
        stays up in between). ``dtype`` of the U-Net and text encoder: float16 on a GPU, float32 on the
        CPU unless given ("float32", "float16", "bfloat16")."""
        if not isinstance(checkpoint, PipelineCheckpoint) or checkpoint.source is None:
            raise StudioError("A pipeline is opened from its folder or file (PipelineFamily.from_checkpoint).")
        _check_preview(preview, decode_every)
        if dtype is not None and dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        super().__init__(checkpoint, device)
        self.source = checkpoint.source
        self.preview_mode, self.decode_every = preview, decode_every
        self.dtype = DTYPES[dtype] if dtype else (torch.float16 if device.startswith("cuda") else torch.float32)
        self.parts = load_components(self.source, device, self.dtype)
        self.schedule = NoiseSchedule(ScheduleConfig(**self.source.schedule))
        self.prediction = self.source.prediction
        vae = self.parts.vae.config
        self.scaling = float(getattr(vae, "scaling_factor", None) or 0.18215)
        self.latent_channels = int(vae.latent_channels)

    @classmethod
    def from_checkpoint(cls, path: Path, device: str = "cpu", *, model_id: str = "",
                        file_sha256: Callable[[Path], str] | None = None, **options) -> "PipelineFamily":
        """Open the pipeline at ``path`` (a diffusers folder or a single .safetensors file) under the id it
        was added with (default: its name)."""
        source = describe(path)
        checkpoint = PipelineCheckpoint(Path(path), cls.name, source.summary(), {}, source=source,
                                        model_id=model_id, file_sha256=file_sha256)
        return cls(checkpoint, device, **options)

    # --- what it is -----------------------------------------------------------------------------
    @property
    def preview_modes(self) -> tuple[str, ...]:
        return (self.preview_mode, *(m for m in PREVIEWS if m != self.preview_mode))

    def set_preview(self, mode: str, every: int = 1) -> None:
        _check_preview(mode, every)
        self.preview_mode, self.decode_every = mode, every

    @property
    def image_format(self) -> ImageFormat:
        """The size it was trained at; a request may ask for another (the "size" control)."""
        w, h = self.source.size
        return ImageFormat(w, h, 3, "rgb", dark_background=False)  # photographs: inputs are used as they are

    @property
    def conditional(self) -> bool:
        return True

    @property
    def size_step(self) -> int:
        """Width and height are multiples of this: the VAE's pixels per latent cell."""
        return self.source.vae_scale

    # --- requests -------------------------------------------------------------------------------
    def default_request(self) -> GenerationRequest:
        return super().default_request().with_(guidance=GUIDANCE)

    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        """As every family's, but the size is the request's own, refused unless the model can make it."""
        req = super().resolve(request)  # validated at the trained size, the hash filled in
        w, h, step = request.width, request.height, self.size_step
        if w % step or h % step or w < step or h < step:
            raise RequestError(f"{self.checkpoint.id} makes images whose width and height are multiples of {step} "
                               f"pixels (got {w}x{h}); it was trained at {self.image_format.describe()}.")
        return req.with_(width=w, height=h).validated()

    def check_init(self, request: GenerationRequest, init: np.ndarray | None) -> np.ndarray | None:
        """The input image must have the request's size (this family's images have no fixed size)."""
        if not request.init_image:
            return None
        if init is None:
            raise StudioError("This request starts from an input image, but its pixels were not given.")
        init = np.asarray(init)
        want = (request.height, request.width, 3)
        if init.dtype != np.uint8 or init.shape != want:
            shown = f"{init.shape[1]}x{init.shape[0]} with {init.shape[-1]} channel(s)" if init.ndim == 3 else \
                f"an array of shape {init.shape}"
            raise StudioError(f"The input image is {shown}; this request makes {request.width}x{request.height} RGB "
                              "images: drop the image again with this size set.")
        if content_hash(init) != request.init_image:
            raise StudioError("The input image's pixels do not match the hash the request names.")
        return init

    # --- generating -----------------------------------------------------------------------------
    def frames(self, req: GenerationRequest, init: np.ndarray | None, want_noisy: bool) -> Iterator[Frame]:
        n, size = req.batch_size, (req.height, req.width)
        shape = (self.latent_channels, req.height // self.size_step, req.width // self.size_step)
        gens = image_generators(req.seed, n)
        sampler = make_sampler(req.sampler, self.schedule, req.eta)
        sampler.set_timesteps(req.steps)
        start = 0
        if req.init_image:
            # SDEdit: noise the input's latent to the strength's timestep, then run the rest of the schedule;
            # strength 0 runs no step and returns the input itself.
            pixels = to_signed(init[None]).to(self.device)
            start = len(sampler.timesteps) - round(req.strength * len(sampler.timesteps))
            if start == len(sampler.timesteps):
                yield Frame(1, 1, from_signed(pixels.expand(n, -1, -1, -1)), final=True)
                return
            x = sampler.add_noise(self._encode(pixels).expand(n, -1, -1, -1), start, self._noise(gens, shape))
        else:
            x = self._noise(gens, shape)
        cond, uncond = self._conditions(req.prompt, req.negative_prompt, n, req.guidance)

        def model(x_t: torch.Tensor, t: int) -> torch.Tensor:  # also a sampler's further evaluations (Heun)
            return self._eps(x_t, t, cond, uncond, req.guidance)

        total = len(sampler.timesteps) - start
        shown = None  # the last decoded preview ("decode" previews, between decodes)
        for done in range(1, total + 1):
            i = start + done - 1
            last = done == total
            noise = self._noise(gens, shape) if sampler.stochastic and not last else None
            out = sampler.step(model(x, sampler.timesteps[i]), i, x, noise, clip=False, model=model)
            x = out.prev_sample
            if last:
                preview = self._decode(x)
            elif self.preview_mode == "linear" and self.latent_channels == len(SD_LATENT_RGB):
                preview = from_signed(linear_rgb(out.pred_x0, size))
            else:
                if shown is None or done % self.decode_every == 0:
                    shown = self._decode(out.pred_x0)
                preview = shown
            noisy = self._cheap(x, size) if want_noisy else None
            yield Frame(done, total, preview, noisy, final=last)

    def _noise(self, gens: list[torch.Generator], shape: tuple[int, ...]) -> torch.Tensor:
        # One generator per image, on the CPU: image i of a batch with seed s is image 0 of seed s + i.
        return torch.stack([torch.randn(shape, generator=g) for g in gens]).to(self.device)

    @torch.no_grad()
    def _embed(self, text: str) -> torch.Tensor:
        """(1, tokens, width) text features of a prompt; a blend ("a::0.7 | b::0.3") mixes its parts'."""
        parts = parse_blend(text)
        ids = self.parts.tokenizer([t for t, _ in parts], padding="max_length", max_length=self.parts.max_length,
                                   truncation=True, return_tensors="pt").input_ids.to(self.device)
        features = self.parts.text_encoder(ids).last_hidden_state
        if len(parts) == 1:
            return features
        w = torch.tensor([w for _, w in parts], device=self.device, dtype=features.dtype).view(-1, 1, 1)
        return (features * w).sum(0, keepdim=True) / w.sum()

    def _conditions(self, prompt: str, negative: str, n: int, guidance: float
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The prompt's features and, unless guidance is 1, the negative prompt's (SD's unconditional is
        the empty prompt's features), each repeated for the batch."""
        cond = self._embed(prompt).expand(n, -1, -1)
        uncond = None if guidance == 1.0 else self._embed(negative).expand(n, -1, -1)
        return cond, uncond

    @torch.no_grad()
    def _eps(self, x: torch.Tensor, t: int, cond: torch.Tensor, uncond: torch.Tensor | None,
             guidance: float) -> torch.Tensor:
        tt = torch.full((x.shape[0],), t, device=self.device, dtype=torch.long)
        unet = self.parts.unet
        if uncond is None:
            out = unet(x.to(self.dtype), tt, encoder_hidden_states=cond).sample.float()
        else:
            both = unet(torch.cat([x, x]).to(self.dtype), torch.cat([tt, tt]),
                        encoder_hidden_states=torch.cat([cond, uncond])).sample.float()
            o_c, o_u = both.chunk(2)
            out = o_u + guidance * (o_c - o_u)  # linear in the output, so in epsilon too
        return to_eps(out, x, tt, self.schedule, self.prediction)

    @torch.no_grad()
    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] -> their scaled posterior means (the mean: the same image, the same latent)."""
        return self.parts.vae.encode(pixels.float()).latent_dist.mean * self.scaling

    @torch.no_grad()
    def _decode(self, z: torch.Tensor) -> np.ndarray:
        """Scaled latents -> uint8 pixels through the VAE decoder."""
        return from_signed(self.parts.vae.decode(z.float() / self.scaling).sample)

    def _cheap(self, z: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
        """A latent shown without the decoder where the linear map fits, else decoded."""
        if self.latent_channels == len(SD_LATENT_RGB):
            return from_signed(linear_rgb(z, size))
        return self._decode(z)
