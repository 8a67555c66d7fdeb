"""Autoregressive family: a Gated PixelCNN drawing binarised pixels, or a transformer drawing the codes
of a small VQ-VAE with the prompt as its prefix. Both draw in raster order and yield a Frame per row,
with the not-yet-drawn area marked, so the preview shows the image being written."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...errors import StudioError
from ...events import Frame
from ...prompt.encoder import PromptEncoder
from ...request import MAX_BATCH, GenerationRequest
from ..base import Family, PromptConditioned, register
from .pixelcnn import GatedPixelCNN, PixelCNNConfig
from .sampling import Sampling, pixelcnn_rows, transformer_rows
from .transformer import ImageTransformer, TransformerConfig
from .vqvae import VQVAE, VQVAEConfig

ARCHS = ("pixelcnn", "transformer")


def binary_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 1, H, W) {0, 1} pixels -> (B, H, W, 1) uint8 {0, 255}."""
    return (x * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _config(checkpoint: ckpt_io.Checkpoint, key: str, cls):
    try:
        return cls.from_dict(checkpoint.config.get(key, {}))
    except (TypeError, ValueError) as e:
        raise ckpt_io.CheckpointError(f"{checkpoint.path.name} has an invalid {key} config: {e}") from e


@register
class AutoregressiveFamily(PromptConditioned, Family):
    name = "autoregressive"  # label, controls and samplers come from its CATALOG entry

    def __init__(self, checkpoint: ckpt_io.Checkpoint, device: str = "cpu",
                 encoder: PromptEncoder | None = None) -> None:
        super().__init__(checkpoint, device)
        self.arch = checkpoint.config.get("arch")
        if self.arch == "pixelcnn":
            self.model = GatedPixelCNN(_config(checkpoint, "pixelcnn", PixelCNNConfig))
            self.tokenizer = None
        elif self.arch == "transformer":
            self.model = ImageTransformer(_config(checkpoint, "transformer", TransformerConfig))
            self.tokenizer = VQVAE(_config(checkpoint, "vqvae", VQVAEConfig))
            ckpt_io.load_state(self.tokenizer, checkpoint.group("vq"), checkpoint.path.name + " (VQ-VAE)")
            self.tokenizer.to(device).eval()
        else:
            raise ckpt_io.CheckpointError(f"{checkpoint.path.name} is an autoregressive model of unknown "
                                          f"architecture {self.arch!r}; known: {', '.join(ARCHS)}.")
        ckpt_io.load_state(self.model, checkpoint.group("ema") or checkpoint.group("model"), checkpoint.path.name)
        self.model.to(device).eval()
        self._encoder = encoder

    @classmethod
    def from_checkpoint(cls, path: Path, device: str = "cpu", encoder: PromptEncoder | None = None):
        return cls(ckpt_io.load(path, family=cls.name), device, encoder)

    @classmethod
    def train_task(cls, dataset: str, *, arch: str = "pixelcnn", **options):
        if dataset != "fashion-mnist":
            raise StudioError(f"Unknown data set {dataset!r}; the autoregressive trainers know: fashion-mnist.")
        if arch == "pixelcnn":
            from .train_pixelcnn import pixelcnn_task

            return pixelcnn_task(**options)
        if arch == "transformer":
            from .train_transformer import transformer_task

            return transformer_task(**options)
        raise StudioError(f"Unknown autoregressive architecture {arch!r}; known: {', '.join(ARCHS)}.")

    # --- properties ---------------------------------------------------------------------------------
    @property
    def image_size(self) -> tuple[int, int]:
        s = self.tokenizer.config.image_size if self.tokenizer else self.model.config.image_size
        return s, s

    def default_request(self) -> GenerationRequest:
        return super().default_request().with_(sampler="cached")

    # --- sampling -----------------------------------------------------------------------------------
    def sample(self, request: GenerationRequest, *, want_noisy: bool = False) -> Iterator[Frame]:
        """One Frame per row of pixels (PixelCNN) or of codes (transformer); the last is the image."""
        req = self.checked(request)
        if req.sampler not in self.samplers:
            raise StudioError(f"The autoregressive family samples with {' or '.join(self.samplers)}, "
                              f"not {req.sampler!r}.")
        n, cached, s = req.batch_size, req.sampler == "cached", Sampling.of(req)
        cond = self._cond(req.prompt, n)
        h, w = self.image_size
        prefix, start = self.completion(req) if req.init_image else (None, 0)
        if self.arch == "pixelcnn":
            rows = pixelcnn_rows(self.model, n, req.seed, s, cond, cached=cached, redraws=req.redraws,
                                 prefix=prefix, start=start)
            total, pixel_rows, show = h, 1, binary_to_uint8
        else:
            rows = transformer_rows(self.model, n, req.seed, s, cond, cached=cached,
                                    redraws=self.code_redraws(req.redraws), prefix=prefix, start=start)
            total, show = self.model.config.grid, self.decode_codes
            pixel_rows = h // total  # a row of codes covers this many rows of pixels
        for r, x in rows:
            sampled = None
            if r < total:
                sampled = np.zeros((h, w), bool)
                sampled[:r * pixel_rows] = True
            yield Frame(r, total, show(x), final=r == total, unit="row", sampled=sampled)

    def completion(self, req: GenerationRequest) -> tuple[torch.Tensor, int]:
        """Image-to-image for a model that writes in raster order: keep the input's top rows (all of
        them at strength 0, none at 1) and draw the rest. Returns the input as the model's positions
        (binarised pixels, or VQ-VAE codes) and how many of them are kept."""
        from ....store.inputs import load_input

        h, w = self.image_size
        image = load_input(req.init_image)
        if image.shape != (h, w, 1):
            raise StudioError(f"The input image is {image.shape[1]}x{image.shape[0]} with {image.shape[2]} channel(s); "
                              f"{self.checkpoint.id} works on {w}x{h} grey images: drop the image again with this "
                              "model selected.")
        x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].to(self.device)
        x = (x >= 128).long().expand(req.batch_size, -1, -1, -1)  # the binarised pixels the models know
        rows = h if self.arch == "pixelcnn" else self.model.config.grid
        keep = round((1.0 - req.strength) * rows)
        if self.arch == "pixelcnn":
            return x, keep * w
        with torch.no_grad():
            codes = self.tokenizer.encode(x.float()).flatten(1)
        return codes, keep * rows

    def code_redraws(self, redraws: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        """Pixel positions -> the positions of the codes whose blocks hold them. Each redraw replaces
        those at or after its code, as ``GenerationRequest.redrawn_from`` does for pixels."""
        h, w = self.image_size
        grid = self.model.config.grid
        out: list[tuple[int, int]] = []
        for p, sd in redraws:
            y, x = divmod(p, w)
            code = (y * grid // h) * grid + x * grid // w
            out = [r for r in out if r[0] < code] + [(code, sd)]
        return tuple(out)

    @torch.no_grad()
    def decode_codes(self, codes: torch.Tensor) -> np.ndarray:
        """(B, G, G) code indices (undrawn ones any value) -> (B, H, W, 1) uint8 decoder means."""
        p = torch.sigmoid(self.tokenizer.decode_logits(codes.to(self.device)).float())
        return (p * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    @torch.no_grad()
    def test_images_as_shown(self, data_dir: str | None = None, seed: int = 0) -> tuple[np.ndarray, str]:
        """The Fashion-MNIST test images as this model shows its own samples: binarised (PixelCNN), or
        binarised, encoded to codes and decoded (transformer). The evaluation's fair reference."""
        from ...data import fashion_mnist
        from ..vae.eval import binarize

        x = binarize(fashion_mnist.load("test", data_dir).images, seed)
        if self.arch == "pixelcnn":
            return binary_to_uint8(x.long()), f"binarised (seed {seed})"
        shown = [self.decode_codes(self.tokenizer.encode(x[s:s + 500].to(self.device))) for s in range(0, len(x), 500)]
        return np.concatenate(shown), f"binarised (seed {seed}), encoded to codes and decoded"

    def generate(self, request: GenerationRequest) -> np.ndarray:
        frame = None
        for frame in self.sample(request):
            pass
        return frame.preview

    def generate_fn(self, sampler: str = "cached"):
        """``generate(prompt, n, seed)`` for the evaluations, in batches of at most MAX_BATCH."""
        def generate(prompt: str, n: int, seed: int) -> np.ndarray:
            out = []
            for start in range(0, n, MAX_BATCH):
                req = self.default_request().with_(prompt=prompt, sampler=sampler, seed=seed + start,
                                                   batch_size=min(MAX_BATCH, n - start))
                out.append(self.generate(req))
            return np.concatenate(out)

        return generate
