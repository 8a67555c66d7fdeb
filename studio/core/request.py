"""GenerationRequest: everything that decides an image. The gallery stores it, a PNG carries it,
and generating it again on the same device reproduces the same pixels."""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING

from .errors import RequestError

if TYPE_CHECKING:
    import torch
from .prompt.blend import parse_blend

MAX_STEPS = 1000
MAX_BATCH = 16
MAX_SEED = 2**32 - 1
MAX_TEMPERATURE = 5.0
MAX_TOP_K = 4096
MAX_LATENT = 50.0  # |z_i| bound: a standard-normal prior never gets near it


def image_generators(seed: int, n: int) -> list["torch.Generator"]:
    """One random stream per image of a batch: image i of a batch with seed s is image 0 of seed
    s + i, in every family, so a batch never changes its images and any image can be made alone."""
    import torch

    return [torch.Generator().manual_seed(seed + i) for i in range(n)]


@dataclass(frozen=True)
class GenerationRequest:
    family: str = "diffusion"
    checkpoint: str = ""  # checkpoint id (file stem)
    checkpoint_hash: str = ""
    prompt: str = ""
    negative_prompt: str = ""
    sampler: str = "ddim"
    steps: int = 50
    guidance: float = 3.0
    seed: int = 0
    batch_size: int = 1
    eta: float = 0.0
    width: int = 28
    height: int = 28
    # An explicit latent vector (families with one: VAE, GAN). Empty: drawn from the prior with the seed.
    latent: tuple[float, ...] = ()
    truncation: float = 1.0  # GAN: the prior's draw is scaled by this (1: full diversity)
    # Autoregressive: each position's distribution is sharpened (temperature < 1, 0 = most likely value),
    # cut to its k most likely values (0: all) and to the smallest set holding probability top_p.
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    # Autoregressive: (position, seed) pairs, positions increasing: from each raster position (pixel
    # index y * width + x) on, the draws come from that seed instead. Redrawing everything after a
    # clicked pixel keeps every draw before it exactly: the pixels of a model that draws pixels, the
    # codes before the clicked pixel's code for one that draws VQ-VAE codes.
    redraws: tuple[tuple[int, int], ...] = ()
    # Image-to-image (SDEdit): the input's hash in the inputs store (studio.store.inputs), noised to
    # ``strength`` (0: the input itself, 1: pure noise) and denoised under the prompt.
    init_image: str = ""
    strength: float = 0.6

    def validated(self) -> "GenerationRequest":
        """Refuse values no widget would allow, with a message that names the field."""
        if not 1 <= self.steps <= MAX_STEPS:
            raise RequestError(f"Steps must be between 1 and {MAX_STEPS} (got {self.steps}).")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise RequestError(f"Batch size must be between 1 and {MAX_BATCH} (got {self.batch_size}).")
        if not 0 <= self.seed <= MAX_SEED:
            raise RequestError(f"Seed must be between 0 and {MAX_SEED} (got {self.seed}).")
        if not 0.0 <= self.guidance <= 30.0:
            raise RequestError(f"Guidance scale must be between 0 and 30 (got {self.guidance}).")
        if not 0.0 <= self.eta <= 1.0:
            raise RequestError(f"eta must be between 0 and 1 (got {self.eta}).")
        if not 0.0 <= self.truncation <= 1.0:
            raise RequestError(f"Truncation must be between 0 and 1 (got {self.truncation}).")
        if not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise RequestError(f"Temperature must be between 0 and {MAX_TEMPERATURE:g} (got {self.temperature}).")
        if not 0 <= self.top_k <= MAX_TOP_K:
            raise RequestError(f"top-k must be between 0 (off) and {MAX_TOP_K} (got {self.top_k}).")
        if not 0.0 < self.top_p <= 1.0:
            raise RequestError(f"top-p must be above 0 and at most 1 (got {self.top_p}).")
        if not 0.0 <= self.strength <= 1.0:
            raise RequestError(f"Strength must be between 0 and 1 (got {self.strength}).")
        if self.init_image and not re.fullmatch(r"[0-9a-f]{16}", self.init_image):
            raise RequestError(f"{self.init_image!r} is not an input image hash (16 hex digits).")
        for text in (self.prompt, self.negative_prompt):
            parse_blend(text)  # a malformed blend is a message now, not an error mid-run
        if self.redraws:
            where = [p for p, _ in self.redraws]
            if where != sorted(set(where)) or not all(0 <= p < self.width * self.height for p in where):
                raise RequestError("Redraw positions must be increasing pixel indices inside the image.")
            if not all(0 <= sd <= MAX_SEED for _, sd in self.redraws):
                raise RequestError(f"Redraw seeds must be between 0 and {MAX_SEED}.")
        if self.latent:
            if not all(isinstance(v, (int, float)) and math.isfinite(v) and abs(v) <= MAX_LATENT
                       for v in self.latent):
                raise RequestError(f"Every latent value must be a finite number within ±{MAX_LATENT:g}.")
            if self.batch_size != 1:
                raise RequestError("A request with an explicit latent vector makes one image (batch size 1).")
        return self

    def redrawn_from(self, position: int, seed: int) -> "GenerationRequest":
        """This request, with everything from raster ``position`` on drawn again from ``seed``."""
        return self.with_(redraws=tuple(r for r in self.redraws if r[0] < position) + ((position, seed),))

    def with_(self, **changes) -> "GenerationRequest":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-shaped: what a PNG or the gallery stores."""
        d = asdict(self)
        d["latent"] = list(self.latent)
        d["redraws"] = [list(r) for r in self.redraws]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GenerationRequest":
        if not isinstance(d, dict):
            raise RequestError("Settings must be a JSON object.")
        kwargs = {}
        for f in fields(cls):
            if f.name in d:
                try:
                    if f.name == "latent":
                        if isinstance(d[f.name], (str, bytes)):
                            raise TypeError("the latent must be a list of numbers")
                        kwargs[f.name] = tuple(float(v) for v in d[f.name])
                    elif f.name == "redraws":
                        kwargs[f.name] = tuple((int(p), int(sd)) for p, sd in d[f.name])
                    else:
                        kwargs[f.name] = type(getattr(cls, f.name))(d[f.name])
                except (TypeError, ValueError) as e:
                    raise RequestError(f"Setting {f.name!r} has an invalid value {d[f.name]!r}.") from e
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_parameters(self) -> str:
        """The A1111-style 'parameters' text other image tools read."""
        lines = [self.prompt]
        if self.negative_prompt:
            lines.append(f"Negative prompt: {self.negative_prompt}")
        lines.append(
            f"Steps: {self.steps}, Sampler: {self.sampler}, CFG scale: {self.guidance:g}, Seed: {self.seed}, "
            f"Size: {self.width}x{self.height}, Model hash: {self.checkpoint_hash}, Model: {self.checkpoint}, "
            f"Family: {self.family}, Batch size: {self.batch_size}, Eta: {self.eta:g}"
        )
        if self.truncation != 1.0:
            lines[-1] += f", Truncation: {self.truncation:g}"
        if (self.temperature, self.top_k, self.top_p) != (1.0, 0, 1.0):
            lines[-1] += f", Temperature: {self.temperature!r}, Top k: {self.top_k}, Top p: {self.top_p!r}"
        if self.init_image:
            lines[-1] += f", Init image: {self.init_image}, Denoising strength: {self.strength!r}"
        if self.redraws:
            lines[-1] += ", Redraws: " + " ".join(f"{p}@{sd}" for p, sd in self.redraws)
        if self.latent:  # space-separated: the line's fields are comma-separated
            lines[-1] += ", Latent: " + " ".join(repr(float(v)) for v in self.latent)  # exact round trip
        return "\n".join(lines)

    @classmethod
    def from_parameters(cls, text: str) -> "GenerationRequest":
        """Parse the 'parameters' text (ours, or a compatible subset from other tools)."""
        lines = text.strip("\n").split("\n")
        if not lines or not re.search(r"(^|, )Steps: ", lines[-1]):
            raise RequestError("The image carries no generation settings this studio can read.")
        kv = dict(re.findall(r"([A-Za-z ]+): ([^,]*)(?:, |$)", lines[-1]))
        head = lines[:-1]
        negative = ""
        for i, line in enumerate(head):
            if line.startswith("Negative prompt: "):
                negative = "\n".join(head[i:])[len("Negative prompt: "):]
                head = head[:i]
                break
        d: dict = {"prompt": "\n".join(head), "negative_prompt": negative}
        mapping = {"Steps": "steps", "Sampler": "sampler", "CFG scale": "guidance", "Seed": "seed",
                   "Model hash": "checkpoint_hash", "Model": "checkpoint", "Family": "family",
                   "Batch size": "batch_size", "Eta": "eta", "Truncation": "truncation",
                   "Temperature": "temperature", "Top k": "top_k", "Top p": "top_p",
                   "Init image": "init_image", "Denoising strength": "strength"}
        for key, name in mapping.items():
            if key in kv:
                d[name] = kv[key].strip()
        if "Size" in kv and "x" in kv["Size"]:
            d["width"], d["height"] = kv["Size"].split("x", 1)
        if kv.get("Latent", "").strip():
            d["latent"] = kv["Latent"].split()
        if kv.get("Redraws", "").strip():
            d["redraws"] = [r.split("@", 1) for r in kv["Redraws"].split()]
        d["sampler"] = str(d.get("sampler", "ddim")).lower()
        return cls.from_dict(d)
