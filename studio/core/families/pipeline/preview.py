"""The cheap live preview of a Stable Diffusion latent: each of its 4 channels is a fixed mix of red,
green and blue, so a (4, h, w) latent maps to an (3, h, w) image with one small matrix product and no
decoder pass, shown enlarged to the image's size. The matrix is the one the desks use for SD 1.x/2.x
latents (ComfyUI's ``latent_formats.SD15.latent_rgb_factors``), fitted to the VAE's scaled latent."""
from __future__ import annotations

import torch
import torch.nn.functional as F

# Rows: latent channels; columns: R, G, B in [-1, 1] terms.
SD_LATENT_RGB = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)


def linear_rgb(z: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Scaled latents (N, 4, h, w) -> images (N, 3, height, width) in [-1, 1] terms (unclamped)."""
    weight = torch.tensor(SD_LATENT_RGB, dtype=torch.float32, device=z.device)
    rgb = torch.einsum("nchw,co->nohw", z.float(), weight)
    return F.interpolate(rgb, size=size, mode="nearest")
