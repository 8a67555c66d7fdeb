"""The first stage of latent diffusion (Rombach et al. 2022): a small KL-regularised convolutional
autoencoder that maps images to a spatial latent (4x7x7 for 28x28, 4x8x8 for 32x32) a diffusion model
then samples in, plus what ships with it: the latent scale (Stable Diffusion's ``scale_factor``) and a
cheap linear latent-to-pixel preview map (its ``latent_rgb_factors``).

The objective is deliberately plain: L1 reconstruction plus a tiny KL weight. The paper's patch
discriminator and LPIPS perceptual loss are left out: they sharpen large natural images, and at
28-32 pixels they cost more than they give (and LPIPS would need downloaded VGG weights).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torch.nn import functional as F

from ... import checkpoint as ckpt_io
from ...errors import CheckpointError

LOGVAR_RANGE = (-30.0, 20.0)  # as in the paper's DiagonalGaussianDistribution: exp() stays finite
EXTRAS = ("scale", "preview_weight", "preview_bias")  # tensors shipped beside the weights


@dataclass(frozen=True)
class AutoencoderConfig:
    in_channels: int = 1
    image_size: int = 28
    latent_channels: int = 4
    base_channels: int = 32
    downsample: int = 2  # stride-2 stages: 28 -> 14 -> 7, 32 -> 16 -> 8
    res_blocks: int = 1  # per resolution, in the encoder and the decoder
    kl_weight: float = 1e-6  # per image, against the per-image summed L1 (the paper's weighting)

    def __post_init__(self) -> None:
        checks = {"in_channels": self.in_channels in (1, 3), "image_size": 4 <= self.image_size <= 512,
                  "latent_channels": 1 <= self.latent_channels <= 64, "base_channels": 1 <= self.base_channels <= 256,
                  "downsample": 0 <= self.downsample <= 4, "res_blocks": 0 <= self.res_blocks <= 4,
                  "kl_weight": 0.0 <= self.kl_weight <= 1.0}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"autoencoder {bad[0]} is out of range: {getattr(self, bad[0])!r}")

    @property
    def widths(self) -> list[int]:
        """Channels at each resolution: doubling per stage, at most 4x base (the net stays small)."""
        return [self.base_channels * min(2**i, 4) for i in range(self.downsample + 1)]

    @property
    def sizes(self) -> list[int]:
        """The feature map's side at each resolution (a stride-2 conv with padding 1 rounds up)."""
        sides = [self.image_size]
        for _ in range(self.downsample):
            sides.append((sides[-1] + 1) // 2)
        return sides

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.latent_channels, self.sizes[-1], self.sizes[-1])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, ch), ch)  # groups of 8 where the width allows


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(in_ch), nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.norm2, self.conv2 = _norm(out_ch), nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class Upsample(nn.Module):
    """Nearest-neighbour upsampling to an exact side (7 -> 14, and 4 -> 7 for odd sizes), then a conv."""

    def __init__(self, in_ch: int, out_ch: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=(self.size, self.size), mode="nearest"))


class Encoder(nn.Module):
    def __init__(self, c: AutoencoderConfig) -> None:
        super().__init__()
        w = c.widths
        self.conv_in = nn.Conv2d(c.in_channels, w[0], 3, padding=1)
        layers: list[nn.Module] = []
        for i in range(c.downsample):
            layers += [ResBlock(w[i], w[i]) for _ in range(c.res_blocks)]
            layers.append(nn.Conv2d(w[i], w[i + 1], 3, stride=2, padding=1))
        self.down = nn.Sequential(*layers)
        self.mid = ResBlock(w[-1], w[-1])
        self.norm_out = _norm(w[-1])
        self.conv_out = nn.Conv2d(w[-1], 2 * c.latent_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.down(self.conv_in(x)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, c: AutoencoderConfig) -> None:
        super().__init__()
        w, sizes = c.widths, c.sizes
        self.conv_in = nn.Conv2d(c.latent_channels, w[-1], 3, padding=1)
        self.mid = ResBlock(w[-1], w[-1])
        layers: list[nn.Module] = []
        for i in reversed(range(c.downsample)):
            layers.append(Upsample(w[i + 1], w[i], sizes[i]))
            layers += [ResBlock(w[i], w[i]) for _ in range(c.res_blocks)]
        self.up = nn.Sequential(*layers)
        self.norm_out = _norm(w[0])
        self.conv_out = nn.Conv2d(w[0], c.in_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.up(self.mid(self.conv_in(z)))
        return self.conv_out(F.silu(self.norm_out(h)))


class KLAutoencoder(nn.Module):
    """x in [-1, 1] (N, C, S, S) <-> z (N, latent_channels, s, s) with a diagonal Gaussian posterior.
    ``decode`` is not clamped (as in the paper): pixels.from_signed clamps when it makes pixels."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.decoder = Encoder(config), Decoder(config)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(*LOGVAR_RANGE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction of a posterior sample, mean, logvar): z = mean + sigma * eps."""
        mean, logvar = self.encode(x)
        where = generator.device if generator is not None else mean.device
        eps = torch.randn(mean.shape, generator=generator, device=where, dtype=mean.dtype).to(mean.device)
        return self.decode(mean + (0.5 * logvar).exp() * eps), mean, logvar


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per image, summed over the latent's channels and positions."""
    mean, logvar = mean.float(), logvar.float()
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1)


def autoencoder_loss(model: KLAutoencoder, x: torch.Tensor, generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(L1 summed per image + kl_weight * KL per image), averaged over the batch and divided by the pixel
    count so the learning rate does not depend on the image size; logs L1 per pixel and KL per image."""
    recon, mean, logvar = model(x, generator)
    l1 = (recon.float() - x.float()).abs().flatten(1).sum(1)
    kl = kl_divergence(mean, logvar)
    pixels = x[0].numel()
    loss = (l1 + model.config.kl_weight * kl).mean() / pixels
    return loss, {"l1": (l1.mean() / pixels).detach(), "kl": kl.mean().detach()}


@torch.no_grad()
def encode_means(model: KLAutoencoder, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The posterior means of ``x`` (on the CPU), encoded in batches by the model in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = [model.encode(x[i:i + batch_size].to(device))[0].float().cpu() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(out)


def latent_scale(latents: torch.Tensor) -> torch.Tensor:
    """The factor that gives ``latents`` unit standard deviation (Stable Diffusion's scale_factor,
    there 0.18215): the diffusion model works on scale * z, which then matches its unit-variance noise."""
    return (1.0 / latents.float().std().clamp_min(1e-8)).reshape(())


def fit_linear_preview(latents: torch.Tensor, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares (weight (C_img, C_lat), bias (C_img,)) with image ~ weight @ z + bias at every pixel,
    the latent nearest-upsampled to the image's size: a per-step preview that costs no decoder pass."""
    n, c_lat = latents.shape[:2]
    up = F.interpolate(latents.double(), size=images.shape[-2:], mode="nearest")
    a = torch.cat([up.permute(0, 2, 3, 1).reshape(-1, c_lat), torch.ones(up.numel() // c_lat, 1, dtype=torch.float64)],
                  dim=1)
    b = images.double().permute(0, 2, 3, 1).reshape(-1, images.shape[1])
    solution = torch.linalg.lstsq(a, b, driver="gelsd").solution  # (C_lat + 1, C_img)
    return solution[:-1].T.float().contiguous(), solution[-1].float().contiguous()


def linear_preview(z: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, image_size: int) -> torch.Tensor:
    """The preview image (N, C_img, image_size, image_size) in [-1, 1] terms (unclamped) of latents z."""
    pix = torch.einsum("oc,nchw->nohw", weight.to(z), z) + bias.to(z)[None, :, None, None]
    return F.interpolate(pix, size=(image_size, image_size), mode="nearest")


def autoencoder_state(model: KLAutoencoder, scale: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                      prefix: str) -> dict[str, torch.Tensor]:
    """The autoencoder's weights and extras under ``prefix.``, to embed it in another checkpoint (a latent
    diffusion model carries its autoencoder under "autoencoder." and its config under config["autoencoder"])."""
    tensors = {f"{prefix}.{k}": v.detach().cpu() for k, v in model.state_dict().items()}
    for name, t in zip(EXTRAS, (scale, weight, bias)):
        tensors[f"{prefix}.{name}"] = torch.as_tensor(t).detach().float().cpu()
    return tensors


def load_autoencoder(checkpoint: ckpt_io.Checkpoint, prefix: str | None = None
                     ) -> tuple[KLAutoencoder, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(model in eval mode, scale, preview weight, preview bias) from the autoencoder's own checkpoint (EMA
    weights as ``ema.*``, extras as ``autoencoder.*``), or with ``prefix`` from one that embeds it there
    (autoencoder_state). Either way its config is ``checkpoint.config["autoencoder"]``."""
    name = checkpoint.path.name
    try:
        config = AutoencoderConfig.from_dict(checkpoint.config.get("autoencoder") or {})
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{name} has an invalid autoencoder config: {e}") from e
    if prefix is None:
        weights, extras = checkpoint.group("ema") or checkpoint.group("model"), checkpoint.group("autoencoder")
    else:
        group = checkpoint.group(prefix)
        weights = {k: v for k, v in group.items() if k not in EXTRAS}
        extras = {k: v for k, v in group.items() if k in EXTRAS}
    missing = [k for k in EXTRAS if k not in extras]
    if missing:
        raise CheckpointError(f"{name} lacks the autoencoder's {missing[0]} (it is written when training ends).")
    model = KLAutoencoder(config)
    ckpt_io.load_state(model, weights, f"{name} (autoencoder)")
    weight, bias = extras["preview_weight"].float(), extras["preview_bias"].float()
    c_img, c_lat = config.in_channels, config.latent_channels
    if extras["scale"].numel() != 1 or weight.shape != (c_img, c_lat) or bias.shape != (c_img,):
        raise CheckpointError(f"{name}: the autoencoder's scale or preview map does not fit its config "
                              f"({c_lat} latent channels, {c_img} image channels).")
    return model.eval().requires_grad_(False), extras["scale"].float().reshape(()), weight, bias
