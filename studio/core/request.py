"""GenerationRequest: everything that decides an image. The gallery stores it, a PNG carries it,
and generating it again on the same device reproduces the same pixels."""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING

from .catalog import CATALOG, CONTROLS
from .errors import RequestError
from .prompt.blend import parse_blend

if TYPE_CHECKING:
    import torch

MAX_STEPS = 1000
# The studio's default denoising: DPM-Solver++(2M) at 20 steps matched DDIM at 50 on the measured FD
# (benchmarks/samplers.py) for 2.5x fewer model evaluations.
DEFAULT_SAMPLER, DEFAULT_STEPS = "dpm++2m", 20
MAX_BATCH = 16
MAX_SEED = 2**32 - 1
MAX_TEMPERATURE = 5.0
MAX_TOP_K = 4096
MAX_LATENT = 50.0  # |z_i| bound: a standard-normal prior never gets near it
MAX_SIDE = 4096  # pixels per image side
MAX_PROMPT = 4000  # characters of a prompt (the sentence encoder reads far fewer)
MAX_ID = 200  # characters of a checkpoint id
MAX_LATENT_DIM = 1024
MAX_REDRAWS = 1024
# Mid-run edits (the step debugger): the settings that may change from a step on, how many changes a
# request holds, and how many characters of prompt text they hold in all (four maximal prompts).
EDITABLE = ("guidance", "negative_prompt", "prompt", "sampler")
MAX_EDITS = 256
MAX_EDIT_TEXT = 4 * MAX_PROMPT
# The longest 'parameters' text read: far above the longest we write (two maximal prompts, a maximal
# latent, redraw and edit list); a longer one is refused before any parsing, which keeps parsing cheap.
MAX_PARAMETERS = 131072
_NUMBER_TEXT = 40  # characters of a number written as text: enough for any float's repr
_INT_BOUND = 2**63  # far beyond every integer field's range; refused at parsing, before any arithmetic
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and line breaks are text
_NOT_IN_ID = re.compile(r"[/\\:\x00-\x1f\x7f]")  # folders, drives, control characters


def _short(value: object, limit: int = 60) -> str:
    """repr of a value for a message, cut so that a huge value cannot make a huge message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): it could never be stored
        raise ValueError("not valid Unicode text") from None
    return value


def _int(value: object) -> int:
    """An integer from JSON (int, or an integral float) or from text; never a bool or an unbounded one."""
    if isinstance(value, bool):
        raise TypeError("not a number")
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ValueError("not a whole number")
        value = int(value)
    elif isinstance(value, str):
        if len(value) > _NUMBER_TEXT:
            raise ValueError("too long")
        value = int(value.strip())
    elif not isinstance(value, int):
        raise TypeError("not a number")
    if abs(value) > _INT_BOUND:
        raise ValueError("too large")
    return value


def _float(value: object) -> float:
    """A finite float from JSON or text; inf, nan and numbers too large for a float are refused."""
    if isinstance(value, bool):
        raise TypeError("not a number")
    if isinstance(value, str):
        if len(value) > _NUMBER_TEXT:
            raise ValueError("too long")
        value = float(value)
    elif isinstance(value, int):
        if abs(value) > _INT_BOUND:
            raise ValueError("too large")
        value = float(value)
    elif not isinstance(value, float):
        raise TypeError("not a number")
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _pairs(value: object) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, (list, tuple)):
        raise TypeError("not a list")
    out = []
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError("not a (position, seed) pair")
        out.append((_int(pair[0]), _int(pair[1])))
    return tuple(out)


def _edits(value: object) -> tuple[tuple[int, str, float | str], ...]:
    """(step, setting, value) triples; guidance's value is a number, the others' text."""
    if not isinstance(value, (list, tuple)):
        raise TypeError("not a list")
    out = []
    for edit in value:
        if not isinstance(edit, (list, tuple)) or len(edit) != 3:
            raise TypeError("not a (step, setting, value) triple")
        name = _text(edit[1])
        out.append((_int(edit[0]), name, _float(edit[2]) if name == "guidance" else _text(edit[2])))
    return tuple(out)


def _numbers(value: object) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)):
        raise TypeError("the latent must be a list of numbers")
    return tuple(_float(v) for v in value)


def _num(x: float) -> str:
    """A float as people write it (7, not 7.0) where that is exact, else its repr: the text round-trips."""
    short = f"{x:g}"
    return short if float(short) == x else repr(float(x))


# The request fields each declared control stands for. Prompt, seed, batch and size are always read;
# the capabilities' fields (latent, redraws, init image) are refused, not dropped, where undeclared.
_FIELDS_OF = {"negative_prompt": ("negative_prompt",), "steps": ("steps",), "guidance": ("guidance",),
              "truncation": ("truncation",), "temperature": ("temperature",), "top_k": ("top_k",),
              "top_p": ("top_p",)}


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
    sampler: str = DEFAULT_SAMPLER
    steps: int = DEFAULT_STEPS
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
    # Mid-run edits (the step debugger): (step, setting, value) triples in order of step, then setting;
    # from ``step`` steps done on, ``setting`` (one of EDITABLE) takes ``value`` for the rest of the run.
    # Written only when there are some, so a request without them reads and hashes as before.
    edits: tuple[tuple[int, str, float | str], ...] = ()

    def validated(self) -> "GenerationRequest":
        """Refuse values no widget would allow, with a message that names the field."""
        info = CATALOG.get(self.family)
        if info is None:
            raise RequestError(f"Unknown model family {_short(self.family)}; known: {', '.join(sorted(CATALOG))}.")
        if info.samplers and self.sampler not in info.samplers:
            raise RequestError(f"The {info.label} family samples with {' or '.join(info.samplers)}, "
                               f"not {_short(self.sampler)}.")
        if not info.samplers and self.sampler and self.sampler not in _all_samplers():
            raise RequestError(f"Unknown sampler {_short(self.sampler)}.")  # ignored, but not nonsense
        if (len(self.checkpoint) > MAX_ID or _NOT_IN_ID.search(self.checkpoint) or ".." in self.checkpoint
                or self.checkpoint.startswith(".") or self.checkpoint != self.checkpoint.strip()):
            raise RequestError(f"{_short(self.checkpoint)} is not a checkpoint id: give the checkpoint's file "
                               "name without its folder or extension.")
        if len(self.checkpoint_hash) > 64 or _CONTROL_CHARS.search(self.checkpoint_hash):
            raise RequestError(f"{_short(self.checkpoint_hash)} is not a checkpoint hash.")
        if not (1 <= self.width <= MAX_SIDE and 1 <= self.height <= MAX_SIDE):
            raise RequestError(f"Width and height must be between 1 and {MAX_SIDE} pixels "
                               f"(got {self.width}x{self.height}).")
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
            raise RequestError(f"{_short(self.init_image)} is not an input image hash (16 hex digits).")
        for control, text in (("prompt", self.prompt), ("negative_prompt", self.negative_prompt)):
            _check_prompt(control.replace("_", " "), text)  # always: the request is stored as it is
            if control in info.controls:  # a family that reads no prompt drops it (normalized)
                parse_blend(text)  # a malformed blend is a message now, not an error mid-run
        if self.redraws:
            if len(self.redraws) > MAX_REDRAWS:
                raise RequestError(f"A request holds at most {MAX_REDRAWS} redraws (got {len(self.redraws)}).")
            where = [p for p, _ in self.redraws]
            if where != sorted(set(where)) or not all(0 <= p < self.width * self.height for p in where):
                raise RequestError("Redraw positions must be increasing pixel indices inside the image.")
            if not all(0 <= sd <= MAX_SEED for _, sd in self.redraws):
                raise RequestError(f"Redraw seeds must be between 0 and {MAX_SEED}.")
        if self.latent:
            if len(self.latent) > MAX_LATENT_DIM:
                raise RequestError(f"A latent vector has at most {MAX_LATENT_DIM} values (got {len(self.latent)}).")
            if not all(isinstance(v, (int, float)) and math.isfinite(v) and abs(v) <= MAX_LATENT
                       for v in self.latent):
                raise RequestError(f"Every latent value must be a finite number within ±{MAX_LATENT:g}.")
            if self.batch_size != 1:
                raise RequestError("A request with an explicit latent vector makes one image (batch size 1).")
        if self.edits:
            _check_edits(self, info)
        return self

    def normalized(self, conditional: bool = True) -> "GenerationRequest":
        """Only what the family uses: the fields of controls its catalog entry does not declare at their
        defaults, no sampler where there is none to choose, and no prompt for a model that reads none
        (``conditional`` False), so a GAN's PNG is not captioned with the prompt box's text. A family
        not in the catalog is left as it is."""
        info = CATALOG.get(self.family)
        if info is None:
            return self
        changes: dict = {}
        for control, names in _FIELDS_OF.items():
            if control not in info.controls:
                changes.update({n: _DEFAULTS[n] for n in names})
        if not _uses_eta(info.controls):
            changes["eta"] = _DEFAULTS["eta"]
        if "prompt" not in info.controls or not conditional:
            changes.update(prompt="", negative_prompt="")
        if not info.samplers:
            changes["sampler"] = ""
        if not self.init_image:
            changes["strength"] = _DEFAULTS["strength"]  # how far to move from an input there is not
        if self.edits:  # an edit of a setting the family does not read goes with the setting
            unread = {name for name in EDITABLE if name in changes}
            changes["edits"] = tuple(e for e in self.edits if e[1] not in unread)
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        return replace(self, **changes) if changes else self

    def redrawn_from(self, position: int, seed: int) -> "GenerationRequest":
        """This request, with everything from raster ``position`` on drawn again from ``seed``."""
        return self.with_(redraws=tuple(r for r in self.redraws if r[0] < position) + ((position, seed),))

    def with_(self, **changes) -> "GenerationRequest":
        return replace(self, **changes)

    def edits_at(self, step: int) -> dict[str, float | str]:
        """The settings that change once ``step`` steps are done: {setting: new value}."""
        return {name: value for at, name, value in self.edits if at == step}

    def settings_at(self, step: int) -> dict[str, float | str]:
        """The editable settings in effect once ``step`` steps are done (for the steps after it)."""
        now = {name: getattr(self, name) for name in EDITABLE}
        now.update((name, value) for at, name, value in self.edits if at <= step)
        return now

    def to_dict(self) -> dict:
        """JSON-shaped: what a PNG or the gallery stores."""
        d = asdict(self)
        d["latent"] = list(self.latent)
        d["redraws"] = [list(r) for r in self.redraws]
        if self.edits:
            d["edits"] = [list(e) for e in self.edits]
        else:
            del d["edits"]  # as before there were edits: old texts and hashes stay the same
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GenerationRequest":
        """The request a dict (JSON from a PNG, the gallery or the queue) describes. Every value must have
        its field's type; inf, nan, numbers too large for their field's type and invalid text are
        refused with a RequestError naming the field. Unknown keys are ignored (newer versions)."""
        if not isinstance(d, dict):
            raise RequestError("Settings must be a JSON object.")
        kwargs = {}
        for f in fields(cls):
            if f.name not in d:
                continue
            try:
                kwargs[f.name] = _PARSE[f.name](d[f.name])
            except (TypeError, ValueError, OverflowError) as e:
                raise RequestError(f"Setting {f.name!r} has an invalid value {_short(d[f.name])}.") from e
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_parameters(self) -> str:
        """The A1111-style 'parameters' text other image tools read: the settings the family declares
        (all of them for a family the catalog does not know)."""
        info = CATALOG.get(self.family)
        shown = info.controls if info is not None else CONTROLS
        lines = [self.prompt] if "prompt" in shown else []
        if self.negative_prompt and "negative_prompt" in shown:
            lines.append(f"Negative prompt: {self.negative_prompt}")
        items = []
        if "steps" in shown:
            items.append(f"Steps: {self.steps}")
        if "sampler" in shown and self.sampler:
            items.append(f"Sampler: {self.sampler}")
        if "guidance" in shown:
            items.append(f"CFG scale: {_num(self.guidance)}")
        items += [f"Seed: {self.seed}", f"Size: {self.width}x{self.height}", f"Model hash: {self.checkpoint_hash}",
                  f"Model: {self.checkpoint}", f"Family: {self.family}", f"Batch size: {self.batch_size}"]
        if _uses_eta(shown):
            items.append(f"Eta: {_num(self.eta)}")
        if "truncation" in shown:
            items.append(f"Truncation: {_num(self.truncation)}")
        if "temperature" in shown:
            items.append(f"Temperature: {self.temperature!r}")
        if "top_k" in shown:
            items.append(f"Top k: {self.top_k}")
        if "top_p" in shown:
            items.append(f"Top p: {self.top_p!r}")
        if self.init_image:
            items.append(f"Init image: {self.init_image}, Denoising strength: {self.strength!r}")
        if self.redraws:
            items.append("Redraws: " + " ".join(f"{p}@{sd}" for p, sd in self.redraws))
        if self.latent:  # space-separated: the line's fields are comma-separated
            items.append("Latent: " + " ".join(repr(float(v)) for v in self.latent))  # exact round trip
        if self.edits:  # last, as JSON (exact, one line): the reader takes the rest of the line, prompts' ", " too
            items.append(_EDITS_KEY + json.dumps([list(e) for e in self.edits], ensure_ascii=False,
                                                 separators=(",", ":")))
        lines.append(", ".join(items))
        return "\n".join(lines)

    @classmethod
    def from_parameters(cls, text: str) -> "GenerationRequest":
        """Parse the 'parameters' text (ours, or a compatible subset from other tools). Linear in the
        text's length, which is bounded first."""
        if len(text) > MAX_PARAMETERS:
            raise RequestError(f"The image's settings text is too long to be ours ({len(text)} characters).")
        lines = text.rstrip("\n").split("\n")  # a prompt may begin with a line break
        if not lines or not re.search(r"(^|, )(Steps|Seed): ", lines[-1]):
            raise RequestError("The image carries no generation settings this studio can read.")
        settings, _, edits = lines[-1].partition(", " + _EDITS_KEY)
        kv: dict[str, str] = {}
        for item in settings.split(", "):
            key, sep, value = item.partition(": ")
            if sep and re.fullmatch(r"[A-Za-z][A-Za-z ]{0,39}", key):
                kv.setdefault(key, value)
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
        if edits.strip():
            try:
                d["edits"] = json.loads(edits)
            except (ValueError, RecursionError):  # RecursionError: deeply nested brackets
                raise RequestError("The image's mid-run edits are not valid JSON.") from None
        d["sampler"] = str(d.get("sampler", "ddim")).lower()
        # What the text leaves out is what the family does not use: the same values resolve() stores.
        return cls.from_dict(d).normalized()


_EDITS_KEY = "Edits: "
_DEFAULTS = {f.name: f.default for f in fields(GenerationRequest)}
_PARSE = {f.name: ({"latent": _numbers, "redraws": _pairs, "edits": _edits}.get(f.name)
                   or {int: _int, float: _float, str: _text}[type(f.default)])
          for f in fields(GenerationRequest)}


def _all_samplers() -> set[str]:
    return {s for info in CATALOG.values() for s in info.samplers}


def _uses_eta(controls: frozenset[str]) -> bool:
    """eta is an option of denoising samplers: families with both steps and a sampler to choose."""
    return {"steps", "sampler"} <= controls


def _check_edits(req: GenerationRequest, info) -> None:
    """Mid-run edits: at most MAX_EDITS, each of an EDITABLE setting at a step after the first and before
    the last, in order (one per setting and step), with a value its setting would accept."""
    if len(req.edits) > MAX_EDITS:
        raise RequestError(f"A request holds at most {MAX_EDITS} mid-run edits (got {len(req.edits)}).")
    keys, text = [], 0
    for edit in req.edits:
        if not isinstance(edit, (list, tuple)) or len(edit) != 3:
            raise RequestError(f"A mid-run edit is a (step, setting, value) triple, not {_short(edit)}.")
        step, name, value = edit
        if name not in EDITABLE:
            raise RequestError(f"{_short(name)} cannot change mid-run; the settings that can are "
                               f"{', '.join(EDITABLE)}.")
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step < req.steps:
            raise RequestError(f"A mid-run edit's step is the number of steps done before it, from 1 to one "
                               f"less than the {req.steps} steps (got {_short(step)} for the {name}).")
        where = f"edited at step {step}"
        if name == "guidance":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 30.0:
                raise RequestError(f"Guidance scale must be between 0 and 30 (got {_short(value)}, {where}).")
        elif not isinstance(value, str):
            raise RequestError(f"The {name.replace('_', ' ')} {where} must be text, not {_short(value)}.")
        elif name == "sampler":
            if info.samplers and value not in info.samplers:
                raise RequestError(f"The {info.label} family samples with {' or '.join(info.samplers)}, "
                                   f"not {_short(value)} ({where}).")
            if not info.samplers and value not in _all_samplers():
                raise RequestError(f"Unknown sampler {_short(value)} ({where}).")
        else:
            _check_prompt(f"{name.replace('_', ' ')} {where}", value)
            if name in info.controls:
                parse_blend(value)
            text += len(value)
        keys.append((step, name))
    if keys != sorted(set(keys)):
        raise RequestError("Mid-run edits must be in order of step, then setting, with at most one edit of a "
                           "setting at a step.")
    if text > MAX_EDIT_TEXT:
        raise RequestError(f"The prompts of the mid-run edits are too long: {text} characters in all, at most "
                           f"{MAX_EDIT_TEXT}.")


def _check_prompt(what: str, text: str) -> None:
    if len(text) > MAX_PROMPT:
        raise RequestError(f"The {what} is too long: {len(text)} characters, at most {MAX_PROMPT}.")
    if _CONTROL_CHARS.search(text):
        raise RequestError(f"The {what} contains a control character (such as NUL); remove it.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(f"The {what} contains an invalid character (a lone surrogate); retype it.") from None
