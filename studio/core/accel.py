"""The GPU path of a denoiser: bf16 autocast, channels_last and ``torch.compile``, each behind a switch.

On the CPU every switch is off by default (bf16 matmuls are slower there than float32 on most CPUs,
and compiling costs more than a session of sampling saves); on CUDA bf16 and channels_last are on.
``GENSTUDIO_ACCEL`` overrides the choice, e.g. ``GENSTUDIO_ACCEL=bf16,compile`` or ``=none``.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .errors import StudioError

SWITCHES = ("bf16", "channels_last", "compile")


@dataclass(frozen=True)
class Accel:
    bf16: bool = False  # autocast matmuls and convolutions to bfloat16 (the weights stay float32)
    channels_last: bool = False  # NHWC memory layout: faster convolutions on tensor cores
    compile: bool = False  # torch.compile; on CUDA "max-autotune" also captures CUDA graphs

    @classmethod
    def parse(cls, text: str) -> Accel:
        """``"bf16,compile"``, ``"none"`` or ``""`` (all off)."""
        names = [n.strip() for n in text.split(",") if n.strip() and n.strip() != "none"]
        unknown = [n for n in names if n not in SWITCHES]
        if unknown:
            raise StudioError(f"Unknown acceleration switch {unknown[0]!r}; known: {', '.join(SWITCHES)}, none.")
        return cls(**{n: True for n in names})

    @classmethod
    def default_for(cls, device: str) -> Accel:
        env = os.environ.get("GENSTUDIO_ACCEL")
        if env is not None:
            return cls.parse(env)
        return cls(bf16=True, channels_last=True) if device.startswith("cuda") else cls()

    def describe(self) -> str:
        return ", ".join(n for n in SWITCHES if getattr(self, n)) or "float32"

    def autocast(self, device: str) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)

    def prepare(self, module: torch.nn.Module, device: str) -> Callable[..., torch.Tensor]:
        """The module (already on ``device``, in eval mode) as the callable to run."""
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        if not self.compile:
            return module
        mode = "max-autotune" if device.startswith("cuda") else "default"
        return torch.compile(module, mode=mode, dynamic=False)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """An image batch laid out as the prepared module wants it."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x
