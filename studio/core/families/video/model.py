"""A space-time factorised U-Net (Ho et al. 2022, "Video Diffusion Models"): the image U-Net's
2-D convolutions, spatial attention and text cross-attention run on every frame alone, and after
each of its blocks a temporal layer mixes the frames at every position: a 1-D convolution over
time, and at the lower resolutions attention across all frames with learned frame positions.

Every temporal layer starts as the identity (zeroed output projections), so a video model
warm-started from a trained image U-Net begins by drawing each frame as that model would, and its
training only has to learn how frames relate (the recipe of Blattmann et al. 2023).

Image-to-video: besides the noisy clip, the first convolution reads given frames and a mask of
which frames are given (zeros where none are), so one model both generates and continues a clip.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...denoising.schedule import NoiseSchedule, ScheduleConfig
from ...denoising.unet import UNet, UNetConfig


@dataclass
class VideoConfig:
    frames: int = 16
    temporal_levels: tuple[int, ...] = (1, 2)  # U-Net levels whose blocks attend across frames
    heads: int = 4
    conditioning_frames: bool = True  # conv_in also reads given frames + their mask (image-to-video)
    # U-Net levels whose blocks also attend across space and time at once (every frame's every position),
    # so a feature can follow an object to where it moves; only affordable at the lowest resolution.
    joint_levels: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "VideoConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for key in ("temporal_levels", "joint_levels"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


class TemporalLayer(nn.Module):
    """Mixes the frames at every spatial position: x + conv_t(x), then (optionally) + attention
    across frames. Both start at zero, so the layer starts as the identity."""

    def __init__(self, channels: int, frames: int, attention: bool, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.conv = nn.Conv1d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.heads = heads
        self.attn = None
        if attention:
            self.attn_norm = nn.LayerNorm(channels)
            self.position = nn.Parameter(torch.randn(frames, channels) * 0.02)
            self.qkv = nn.Linear(channels, 3 * channels)
            self.out = nn.Linear(channels, channels)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
            self.attn = True

    def forward(self, h: torch.Tensor, frames: int) -> torch.Tensor:
        bt, c, hh, ww = h.shape
        b = bt // frames
        x = h.view(b, frames, c, hh, ww).permute(0, 3, 4, 2, 1).reshape(b * hh * ww, c, frames)
        x = x + self.conv(F.silu(self.norm(x)))
        if self.attn is not None:
            s = x.transpose(1, 2)  # (positions, frames, channels)
            n, heads = s.shape[0], self.heads
            q, k, v = self.qkv(self.attn_norm(s) + self.position[:frames].to(s.dtype)).chunk(3, dim=-1)
            q, k, v = (z.view(n, frames, heads, c // heads).transpose(1, 2) for z in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, frames, c)
            x = (s + self.out(a)).transpose(1, 2)
        return x.reshape(b, hh, ww, c, frames).permute(0, 4, 3, 1, 2).reshape(bt, c, hh, ww)


class SpaceTimeAttention(nn.Module):
    """Attention over all frames and positions of a clip at once, with learned frame and position
    embeddings; its output projection starts at zero, so it starts as the identity."""

    def __init__(self, channels: int, frames: int, size: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(channels)
        self.frame_position = nn.Parameter(torch.randn(frames, 1, channels) * 0.02)
        self.position = nn.Parameter(torch.randn(1, size * size, channels) * 0.02)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h: torch.Tensor, frames: int) -> torch.Tensor:
        bt, c, hh, ww = h.shape
        b, heads = bt // frames, self.heads
        s = h.view(b, frames, c, hh * ww).transpose(2, 3)  # (clips, frames, positions, channels)
        pos = (self.frame_position[:frames] + self.position).to(s.dtype)
        q, k, v = self.qkv(self.norm(s) + pos).reshape(b, frames * hh * ww, 3 * c).chunk(3, dim=-1)
        q, k, v = (z.view(b, -1, heads, c // heads).transpose(1, 2) for z in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, frames, hh * ww, c)
        return (s + self.out(a)).transpose(2, 3).reshape(bt, c, hh, ww)


class VideoUNet(UNet):
    """Denoises (N, C, T, H, W) clips. Its image layers have the image U-Net's names, so a trained
    image model's weights load into them as they are."""

    def __init__(self, config: UNetConfig, video: VideoConfig) -> None:
        super().__init__(config)
        self.video = video
        if video.conditioning_frames:  # noisy clip, given frames, mask
            self.conv_in = nn.Conv2d(2 * config.in_channels + 1, self.conv_in.out_channels, 3, padding=1)
        self.temporal = nn.ModuleDict({
            name: TemporalLayer(ch, video.frames, level in video.temporal_levels, video.heads)
            for name, ch, level in self.block_names()})
        side = [config.image_size]  # the feature map's side at each level (a stride-2 conv rounds up)
        while len(side) < len(config.channel_mult):
            side.append((side[-1] + 1) // 2)
        self.joint = nn.ModuleDict({
            name: SpaceTimeAttention(ch, video.frames, side[level], video.heads)
            for name, ch, level in self.block_names() if level in video.joint_levels})

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None,
                given: torch.Tensor | None = None) -> torch.Tensor:
        """x: (N, C, T, H, W) noisy clips; t: (N,); cond: as the image U-Net's, one per clip;
        given: (N, C + 1, T, H, W), the given frames' pixels and a 0/1 mask channel (None: none given)."""
        n, c, frames, h, w = x.shape
        if self.video.conditioning_frames:
            if given is None:
                given = x.new_zeros(n, c + 1, frames, h, w)
            x = torch.cat([x, given.to(x.dtype)], dim=1)
        elif given is not None:
            raise ValueError("this video model was not trained to continue given frames")
        flat = x.transpose(1, 2).reshape(n * frames, x.shape[1], h, w)
        per_frame = None if cond is None else cond.repeat_interleave(frames, dim=0)
        out = self.denoise(self.conv_in(flat), t.repeat_interleave(frames), per_frame,
                           mix=lambda name, z: self._mix(name, z, frames))
        return out.view(n, frames, c, h, w).transpose(1, 2)

    def _mix(self, name: str, h: torch.Tensor, frames: int) -> torch.Tensor:
        h = self.temporal[name](h, frames)
        return self.joint[name](h, frames) if name in self.joint else h


def given_frames(first: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor | None:
    """The ``given`` input for clips of ``shape`` (N, C, T, H, W) whose first frame is ``first``
    ((N, C, H, W) in [-1, 1]); None when no frame is given."""
    if first is None:
        return None
    n, c, frames, h, w = shape
    given = first.new_zeros(n, c + 1, frames, h, w)
    given[:, :c, 0] = first
    given[:, c, 0] = 1.0
    return given


def mixed_noise(shape: tuple[int, ...], shared: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise for clips (N, C, T, H, W) whose frames share a ``shared`` part of their
    variance (the mixed noise prior of Ge et al. 2023, "Preserve Your Own Correlation"): frames of an
    image model's noise are alike, so a model warm-started from it has only the differences left to
    learn. Each value still has unit variance, as the samplers and schedule assume."""
    if not shared:
        return torch.randn(shape, generator=generator)
    n, c, frames, h, w = shape
    common = torch.randn((n, c, 1, h, w), generator=generator)
    own = torch.randn(shape, generator=generator)
    return shared ** 0.5 * common + (1 - shared) ** 0.5 * own


def init_from_image(model: VideoUNet, image_state: dict[str, torch.Tensor]) -> int:
    """Load a trained image U-Net's weights into the video model's image layers; conv_in's extra
    inputs (given frames, mask) start at zero. Returns how many tensors were copied."""
    state = model.state_dict()
    copied = 0
    for key, value in image_state.items():
        if key not in state:
            raise ValueError(f"{key}: the video model has no such layer")
        if key == "conv_in.weight" and state[key].shape[0] == value.shape[0] and state[key].shape[2:] == value.shape[2:]:
            state[key] = torch.zeros_like(state[key])
            state[key][:, : value.shape[1]] = value
        elif state[key].shape != value.shape:
            raise ValueError(f"{key}: {tuple(value.shape)} does not fit {tuple(state[key].shape)}")
        else:
            state[key] = value
        copied += 1
    model.load_state_dict(state)
    return copied


def shared_noise(config: dict) -> float:
    """The share of noise variance a checkpoint's frames have in common (0: independent frames)."""
    return float(config.get("noise", {}).get("shared", 0.0))


def build(config: dict) -> tuple[VideoUNet, NoiseSchedule]:
    """The video U-Net and noise schedule a checkpoint's config describes."""
    return (VideoUNet(UNetConfig.from_dict(config.get("unet", {})), VideoConfig.from_dict(config.get("video", {}))),
            NoiseSchedule(ScheduleConfig(**config.get("schedule", {}))))
