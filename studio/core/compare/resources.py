"""What a model costs: parameters, multiply-accumulates and peak memory per image, time per image,
and the training time its card records. Everything is measured on the loaded Family through its
public interface, so a family added later is measured the same way."""
from __future__ import annotations

import dataclasses
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable

import torch

from ..families.base import Family
from ..request import GenerationRequest


# --- parameters -------------------------------------------------------------------------------------
def _modules(model: Family) -> list[torch.nn.Module]:
    """The torch modules a family holds: its attributes that are modules, and the modules one level
    down in plain holders (a latent model's autoencoder). The shared prompt encoder is left out: it is
    the same pretrained network for every family that reads prompts (and is no module or dataclass)."""
    found: list[torch.nn.Module] = []
    for value in vars(model).values():
        if isinstance(value, torch.nn.Module):
            found.append(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            found += [v for v in vars(value).values() if isinstance(v, torch.nn.Module)]
    return found


def parameter_count(model: Family) -> tuple[int, str]:
    """(parameters, how they were counted). A family that holds no torch modules is counted by the
    elements of its checkpoint's tensors."""
    modules = _modules(model)
    params = {id(p): p.numel() for m in modules for p in m.parameters()}  # a compiled wrapper shares them
    if params:
        names = sorted({type(m).__name__ for m in modules})
        return sum(params.values()), (f"sum of numel over the parameters of its torch modules ({', '.join(names)}); "
                                      "the shared prompt encoder is not counted")
    total = sum(t.numel() for t in model.checkpoint.tensors.values())
    return total, "elements of the checkpoint's tensors (the family holds no torch modules)"


# --- compute ----------------------------------------------------------------------------------------
def flops_per_image(model: Family, request: GenerationRequest) -> int:
    """FLOPs torch's flop counter sees over one image of ``request`` (batch 1). It counts matrix
    products, convolutions and attention; elementwise work is not counted."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.generate(request.with_(batch_size=1))
    return int(counter.get_total_flops())


def _rss_bytes() -> int | None:
    """This process's resident memory now, where /proc tells it (Linux)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def peak_memory(run: Callable[[], object], device: str) -> tuple[int, str]:
    """(bytes, how measured): how far memory rose above its level before ``run`` at its peak."""
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        return max(0, torch.cuda.max_memory_allocated() - before), \
            "torch.cuda.max_memory_allocated above the allocation before the call (tensors only)"
    before = _rss_bytes()
    if before is None:
        return _peak_rusage(run)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.001):
            now = _rss_bytes()
            if now is not None and now > peak[0]:
                peak[0] = now

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run()
    finally:
        done.set()
        sampler.join()
    after = _rss_bytes() or before
    return max(0, max(peak[0], after) - before), (
        "the process's resident memory above its level before, at its peak (sampled every millisecond from "
        "/proc/self/statm); a lower bound, since memory kept from earlier work is reused")


def _peak_rusage(run: Callable[[], object]) -> tuple[int, str]:
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (after - before) * unit, ("growth of the process's peak resident memory (getrusage ru_maxrss); 0 when "
                                     "the call stays under an earlier peak")


# --- time -------------------------------------------------------------------------------------------
def ms_per_image(model: Family, request: GenerationRequest, batch: int, runs: int = 3) -> float:
    """Milliseconds per image at ``batch``: one warm-up batch, then the median of ``runs`` batches."""
    req = request.with_(batch_size=batch)
    model.generate(req)  # warm-up: lazy loading, caches, the allocator's first pages
    times = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        model.generate(req)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0 / batch


def training_time(card: dict) -> tuple[float, str] | None:
    """(seconds, what the run was) from the card's training record, or None when it has none."""
    tr = card.get("training")
    if not isinstance(tr, dict) or not isinstance(tr.get("seconds"), (int, float)):
        return None
    steps = tr.get("steps_done", tr.get("steps"))
    parts = [f"{steps} steps" if steps is not None else "", f"batch {tr['batch_size']}" if "batch_size" in tr else "",
             f"on {tr['device']}" if "device" in tr else ""]
    how = "the card's training record: " + ", ".join(p for p in parts if p)
    if isinstance(card.get("training_note"), str):
        how += f" ({card['training_note']})"
    return float(tr["seconds"]), how
