"""Autoregressive family: a Gated PixelCNN drawing pixels (binarised ones, or 8-bit grey levels), or a
transformer drawing the codes of a small VQ-VAE with the prompt as its prefix. Both draw in raster order
and yield a Frame per row, with the not-yet-drawn area marked, so the preview shows the image being
written. A PixelCNN's ``levels`` says which it draws: 2 for binary pixels, more for grey ones; a
transformer's tokenizer's decoder says which it knows: Bernoulli for binary pixels, logistic for grey."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ... import checkpoint as ckpt_io
from ...binary import binarize
from ...errors import StudioError
from ...events import Frame
from ...pixels import from_unit, to_unit
from ...prompt.encoder import PromptEncoder
from ...request import GenerationRequest
from ..base import EvalSetup, Family, ImageFormat, PromptConditioned, register
from .pixelcnn import GatedPixelCNN, PixelCNNConfig, levels_to_uint8, quantize
from .sampling import Sampling, pixelcnn_rows, transformer_rows
from .transformer import ImageTransformer, TransformerConfig
from .vqvae import VQVAE, VQVAEConfig

ARCHS = ("pixelcnn", "transformer")


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
    def image_format(self) -> ImageFormat:
        if self.tokenizer is not None:  # the tokenizer's decoder means: grey
            s = self.tokenizer.config.image_size
            return ImageFormat(s, s, 1, "grey")
        s = self.model.config.image_size
        return ImageFormat(s, s, 1, "grey" if self.grey else "binary")

    @property
    def grey(self) -> bool:
        """A model of grey levels, not binary pixels: a PixelCNN of more than 2 levels, or a transformer
        whose tokenizer's decoder is a logistic mixture over the 256 grey levels."""
        return self.levels > 2

    @property
    def levels(self) -> int:
        """Values a pixel takes: the PixelCNN's levels, or the tokenizer's (2 or 256)."""
        return self.model.config.levels if self.tokenizer is None else self.tokenizer.config.levels

    def show_levels(self, x: torch.Tensor) -> np.ndarray:
        """(B, 1, H, W) PixelCNN levels -> (B, H, W, 1) uint8."""
        return levels_to_uint8(x, self.model.config.levels)

    def eval_setup(self, *, steps: int = 50, sampler: str = "", guidance: float = 3.0) -> EvalSetup:
        what = (f"codes drawn in raster order -> {'grey ' if self.grey else ''}VQ-VAE decoder mean"
                if self.arch != "pixelcnn"
                else f"{self.model.config.levels} grey levels drawn in raster order" if self.grey
                else "binary pixels drawn in raster order")
        return EvalSetup(self.default_request().with_(sampler="cached"), {"sampler": f"cached, temperature 1 ({what})"})

    def likelihood(self, data_dir: str | None = None, *, k: int | None = None, **options) -> dict:
        """Exact test NLL (PixelCNN) or its bound through the tokenizer (transformer)."""
        from .eval import likelihood

        if k is not None:
            raise StudioError("k (importance samples) is for models with a latent vector; an autoregressive "
                              "model's likelihood needs none: leave it out.")
        return likelihood(self, data_dir, **options)

    # --- sampling -----------------------------------------------------------------------------------
    def frames(self, req: GenerationRequest, init: np.ndarray | None, want_noisy: bool) -> Iterator[Frame]:
        """One Frame per row of pixels (PixelCNN) or of codes (transformer); the last is the image."""
        n, cached, s = req.batch_size, req.sampler == "cached", Sampling.of(req)
        cond = self._cond(req.prompt, n)
        h, w = self.image_size
        prefix, start = self.completion(req, init) if init is not None else (None, 0)
        if self.arch == "pixelcnn":
            rows = pixelcnn_rows(self.model, n, req.seed, s, cond, cached=cached, redraws=req.redraws,
                                 prefix=prefix, start=start)
            total, pixel_rows, show = h, 1, self.show_levels
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

    def completion(self, req: GenerationRequest, image: np.ndarray) -> tuple[torch.Tensor, int]:
        """Image-to-image for a model that writes in raster order: keep the input's top rows (all of
        them at strength 0, none at 1) and draw the rest. Returns the input as the model's positions
        (its grey levels quantised to the model's, binarised pixels, or the VQ-VAE codes of either) and
        how many of them are kept."""
        h, w = self.image_size
        if self.grey:
            x = quantize(image[None], self.levels).to(self.device)
        else:
            x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].to(self.device)
            x = (x >= 128).long()  # the binarised pixels the binary models know
        x = x.expand(req.batch_size, -1, -1, -1)
        rows = h if self.arch == "pixelcnn" else self.model.config.grid
        keep = round((1.0 - req.strength) * rows)
        if self.arch == "pixelcnn":
            return x, keep * w
        with torch.no_grad():
            codes = self.tokenizer.encode(x.float() / (self.levels - 1)).flatten(1)
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
        """(B, G, G) code indices (undrawn ones any value) -> (B, H, W, 1) uint8 decoder means (of the
        Bernoulli pixels, or of the grey levels)."""
        return from_unit(self.tokenizer.decode_unit(codes.to(self.device)))

    @torch.no_grad()
    def as_shown(self, images: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str] | None:
        """Real grey images as this model shows its own samples: as they are (None) for an 8-bit grey
        PixelCNN, quantised to its levels for one with fewer, binarised for a binary one; for a
        transformer encoded to codes and decoded, binarised first if its tokenizer is binary. The
        evaluation's fair reference."""
        if self.arch == "transformer":
            x = to_unit(images) if self.grey else binarize(images, seed)
            shown = [self.decode_codes(self.tokenizer.encode(x[s:s + 500].to(self.device)))
                     for s in range(0, len(x), 500)]
            return np.concatenate(shown), ("grey, not binarised" if self.grey else f"binarised (seed {seed})") + \
                ", encoded to codes and decoded"
        if self.grey:
            levels = self.model.config.levels
            if levels == 256:
                return None
            return self.show_levels(quantize(images, levels)), f"quantised to {levels} grey levels"
        return self.show_levels(binarize(images, seed).long()), f"binarised (seed {seed})"
