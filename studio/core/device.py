"""Where model code runs: the GPU when there is one, else the CPU."""
from __future__ import annotations

import torch


def pick_device(requested: str | None = None) -> str:
    if requested and requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError("CUDA was requested but no GPU is available; use --device cpu.")
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def describe(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    import platform

    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"

