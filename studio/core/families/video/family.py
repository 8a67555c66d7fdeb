"""Video diffusion family (Ho et al. 2022): a space-time U-Net denoises all the frames of a clip
together, with the image model's samplers and classifier-free guidance. Each image it yields is a
filmstrip (studio.core.clips), so every step's preview shows all the frames at once; an input image
is the clip's first frame (the model was trained to continue given frames)."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...accel import Accel
from ...clips import filmstrip
from ...denoising.objective import to_eps
from ...denoising.samplers import make_sampler
from ...errors import StudioError
from ...events import Frame
from ...pixels import to_signed
from ...prompt.blend import embed_prompts
from ...prompt.encoder import PromptEncoder, shared_encoder
from ...request import GenerationRequest, image_generators
from ..base import EvalSetup, Family, ImageFormat, register
from .model import build, given_frames, mixed_noise, shared_noise
from .train import clips_from_signed


@register
class VideoFamily(Family):
    name = "video"

    def __init__(self, checkpoint: ckpt_io.Checkpoint, device: str = "cpu", encoder: PromptEncoder | None = None,
                 accel: Accel | None = None) -> None:
        super().__init__(checkpoint, device)
        self.model, self.schedule = build(checkpoint.config)
        ckpt_io.load_state(self.model, checkpoint.group("ema") or checkpoint.group("model"), checkpoint.path.name)
        self.model.to(device).eval()
        self.accel = accel if accel is not None else Accel.default_for(device)
        self._denoiser = self.accel.prepare(self.model, device)
        self._encoder = encoder
        self.prediction = checkpoint.config.get("prediction", "epsilon")
        self.shared_noise = shared_noise(checkpoint.config)  # the noise prior it was trained with

    @property
    def frame_count(self) -> int:
        return self.model.video.frames

    @property
    def image_format(self) -> ImageFormat:
        c, t = self.model.config, self.frame_count
        return ImageFormat(c.image_size * t, c.image_size, c.in_channels, "rgb" if c.in_channels == 3 else "grey",
                           frames=t)

    @property
    def sample_shape(self) -> tuple[int, int, int, int]:
        c = self.model.config
        return c.in_channels, self.frame_count, c.image_size, c.image_size

    @property
    def conditional(self) -> bool:
        return self.model.config.cond_dim > 0

    @property
    def encoder(self) -> PromptEncoder | None:
        if self.conditional and self._encoder is None:
            self._encoder = shared_encoder()
        return self._encoder if self.conditional else None

    def eval_setup(self, *, steps: int = 20, sampler: str = "", guidance: float = 3.0) -> EvalSetup:
        req = self.default_request().with_(steps=steps, sampler=sampler or "ddim", guidance=guidance)
        return EvalSetup(req, {"sampler": req.sampler, "steps": steps, "guidance": guidance})

    @classmethod
    def train_task(cls, dataset: str, **options):
        from .train import video_task

        if dataset != "moving-shapes":
            raise StudioError(f"Unknown data set {dataset!r}; the video trainer knows: moving-shapes.")
        return video_task(**options)

    def _strips(self, x: torch.Tensor) -> np.ndarray:
        return filmstrip(clips_from_signed(x))

    @torch.no_grad()
    def eps(self, x: torch.Tensor, t: int, cond: torch.Tensor | None, uncond: torch.Tensor | None,
            guidance: float, given: torch.Tensor | None) -> torch.Tensor:
        tt = torch.full((x.shape[0],), t, device=self.device, dtype=torch.long)
        with self.accel.autocast(self.device):
            if uncond is None or guidance == 1.0:
                out = self._denoiser(x, tt, cond, given).float()
            else:  # the given frames condition both halves: guidance is towards the prompt only
                both_given = None if given is None else torch.cat([given, given])
                both = self._denoiser(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([cond, uncond]),
                                      both_given).float()
                o_c, o_u = both.chunk(2)
                out = o_u + guidance * (o_c - o_u)
        return to_eps(out, x, tt, self.schedule, self.prediction)

    def _conditions(self, prompt: str, negative: str, n: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if not self.conditional:
            return None, None
        embs = embed_prompts(self.encoder, [prompt, negative], tokens=self.model.config.context_dim > 0)
        embs = embs.to(self.device)
        cond, uncond = (embs[i: i + 1].expand(n, *embs.shape[1:]) for i in (0, 1))
        if not prompt.strip() and not negative.strip():
            uncond = None
        return cond, uncond

    def frames(self, req: GenerationRequest, init: np.ndarray | None, want_noisy: bool) -> Iterator[Frame]:
        n, shape, t_count = req.batch_size, self.sample_shape, self.frame_count
        gens = image_generators(req.seed, n)

        def noise() -> torch.Tensor:  # one generator per clip: clip i of seed s is clip 0 of seed s + i
            return torch.cat([mixed_noise((1, *shape), self.shared_noise, g) for g in gens]).to(self.device)

        given = None
        if req.init_image:  # image-to-video: the input is the first frame, which the model continues
            if not self.model.video.conditioning_frames:
                raise StudioError(f"{self.checkpoint.id} was not trained to continue a given frame.")
            first = to_signed(init[None]).to(self.device).expand(n, -1, -1, -1)
            given = given_frames(first, (n, *shape))
        sampler = make_sampler(req.sampler, self.schedule, req.eta)
        sampler.set_timesteps(req.steps)
        cond, uncond = self._conditions(req.prompt, req.negative_prompt, n)

        def model(x_t: torch.Tensor, t: int) -> torch.Tensor:
            return self.eps(x_t, t, cond, uncond, req.guidance, given)

        x = noise()
        total = len(sampler.timesteps)
        for i, t in enumerate(sampler.timesteps):
            last = i == total - 1
            extra = noise() if sampler.stochastic and not last else None
            out = sampler.step(model(x, t), i, x, extra, model=model)
            x = out.prev_sample
            shown = x if last else out.pred_x0
            if given is not None:  # the first frame is the input itself, as the model was shown it
                shown = shown.clone()
                shown[:, :, 0] = given[:, :-1, 0]
            yield Frame(i + 1, total, self._strips(shown), self._strips(x) if want_noisy else None, final=last,
                        frames=t_count)
