"""The axes of an X/Y/Z grid and the requests of its cells.

An axis is a request field and the values it takes. As text (the CLI, the grid dialog) it is
``FIELD=VALUES``: values separated by commas (a text value holding a comma is written in double
quotes, as in a CSV line), and a numeric field also takes ranges ``START:STOP:COUNT``, COUNT values
evenly spaced from START to STOP inclusive (whole-number fields round them to the nearest whole
number). ``steps=5,10,20``, ``guidance=1:7:4`` (1, 3, 5, 7), ``sampler=ddim,euler``,
``checkpoint=diffusion-fmnist,my-model``.

``prompt`` (or ``prompt_sr``) is AUTOMATIC1111's Prompt S/R: its first value is text the base prompt
must contain, and each value replaces it there (the first leaves the prompt as it is).
"""
from __future__ import annotations

import csv
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RequestError
from ..request import GenerationRequest

MAX_CELLS = 100  # a 10x10 grid: already minutes on a CPU, and a sheet too large to read
MAX_AXIS_TEXT = 20000  # characters of one axis as text: a few dozen full prompts

INT_FIELDS = ("steps", "seed", "top_k")
FLOAT_FIELDS = ("guidance", "temperature", "truncation", "eta", "strength")
TEXT_FIELDS = ("sampler", "checkpoint", "prompt", "negative_prompt")
FIELDS = INT_FIELDS + FLOAT_FIELDS + TEXT_FIELDS
ALIASES = {"prompt_sr": "prompt", "prompt_s/r": "prompt", "cfg": "guidance", "cfg_scale": "guidance",
           "model": "checkpoint", "negative": "negative_prompt"}
_MAY_BE_EMPTY = ("prompt", "negative_prompt")  # replacing with nothing, or no negative prompt


def field_name(name: str) -> str:
    """The request field an axis name means: case, spaces and hyphens ignored, aliases followed."""
    key = "_".join(name.strip().lower().replace("-", " ").split())
    key = ALIASES.get(key, key)
    if key not in FIELDS:
        raise RequestError(f"A grid axis cannot vary {name.strip()[:40]!r}; it can vary: {', '.join(FIELDS)}.")
    return key


def _fmt(value: object) -> str:
    """A value as a label shows it: 7 rather than 7.0."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(name: str, value: object) -> int | float:
    """One value of a numeric field, from text or a number; a message naming the field otherwise."""
    whole = name in INT_FIELDS
    text = value.strip() if isinstance(value, str) else None
    number: float | None = None
    if text is not None and len(text) <= 40:  # longer is no number a request field can hold
        digits = text.lstrip("+-")
        if whole and digits.isascii() and digits.isdigit() and len(text) - len(digits) <= 1:
            return int(text)
        try:
            number = float(text)
        except ValueError:
            pass
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):  # numpy's numbers too
        number = float(value) if abs(value) < 2**63 else math.inf
    if number is None or not math.isfinite(number) or (whole and not number.is_integer()):
        kind = "whole numbers" if whole else "finite numbers"
        raise RequestError(f"The {name} axis takes {kind}; {_fmt(value)[:40]!r} is not one.")
    return int(number) if whole else number


@dataclass(frozen=True)
class Axis:
    """One axis: a request field (aliases accepted) and its values, coerced to the field's type."""

    field: str
    values: tuple

    def __post_init__(self) -> None:
        name = field_name(self.field)
        values = tuple(self.values)
        if not values:
            raise RequestError(f"The {name} axis has no values.")
        if name in INT_FIELDS or name in FLOAT_FIELDS:
            values = tuple(_number(name, v) for v in values)
        else:
            if not all(isinstance(v, str) for v in values):
                raise RequestError(f"The {name} axis takes text values.")
            if name not in _MAY_BE_EMPTY and not all(v.strip() for v in values):
                raise RequestError(f"The {name} axis has an empty value.")
        if name == "prompt" and not values[0]:
            raise RequestError("A prompt S/R axis's first value is the text to replace; it cannot be empty.")
        object.__setattr__(self, "field", name)
        object.__setattr__(self, "values", values)

    @property
    def title(self) -> str:
        return "prompt S/R" if self.field == "prompt" else self.field

    def label(self, i: int) -> str:
        value = self.values[i]
        return f"{self.field}: {_checkpoint_id(value) if self.field == 'checkpoint' else _fmt(value)}"

    def to_dict(self) -> dict:
        return {"field": self.field, "values": list(self.values)}


def _split(text: str) -> list[str]:
    try:
        return next(csv.reader([text], skipinitialspace=True), [])
    except csv.Error as e:
        raise RequestError(f"The axis values {text[:60]!r} cannot be read: {e}.") from None


def _range(name: str, item: str) -> list[int | float]:
    """START:STOP:COUNT, COUNT values evenly spaced from START to STOP inclusive."""
    parts = item.split(":")
    if len(parts) != 3:
        raise RequestError(f"{item[:40]!r} is not a range: write START:STOP:COUNT, e.g. {name}=1:7:4.")
    start, stop = (float(_number(name, p)) for p in parts[:2])
    count = parts[2].strip()
    if not (count.isascii() and count.isdigit() and len(count) <= 4 and 1 <= int(count) <= MAX_CELLS):
        raise RequestError(f"The range {item.strip()[:40]!r} ends in {count[:20]!r}: COUNT must be a whole "
                           f"number of values between 1 and {MAX_CELLS}.")
    n = int(count)
    spaced = [start + (stop - start) * i / (n - 1) if n > 1 else start for i in range(n)]
    if name in FLOAT_FIELDS:
        return [round(v, 10) for v in spaced]  # 0.30000000000000004 -> 0.3
    values = [math.floor(v + 0.5) for v in spaced]
    if len(set(values)) < len(values):
        raise RequestError(f"The range {item.strip()!r} repeats values once rounded to whole numbers "
                           f"({', '.join(map(str, values))}); ask for fewer.")
    return values


def parse_axis(text: str) -> Axis:
    """``FIELD=VALUES`` (see the module's description) as an Axis; a RequestError saying what is wrong."""
    if len(text) > MAX_AXIS_TEXT:
        raise RequestError(f"An axis is at most {MAX_AXIS_TEXT} characters (got {len(text)}).")
    name, sep, rest = text.partition("=")
    if not sep or not name.strip():
        raise RequestError(f"An axis is FIELD=VALUES, e.g. steps=5,10,20 (got {text[:60]!r}).")
    name = field_name(name)
    items = _split(rest) if rest.strip() else []
    if not items:
        raise RequestError(f"The {name} axis has no values: write e.g. {name}=A,B,C.")
    if name in TEXT_FIELDS:
        return Axis(name, tuple(items if name in _MAY_BE_EMPTY else [i.strip() for i in items]))
    values: list[int | float] = []
    for item in items:
        if not item.strip():
            raise RequestError(f"The {name} axis {rest.strip()[:60]!r} has an empty value.")
        values += _range(name, item) if ":" in item else [_number(name, item)]
    return Axis(name, tuple(values))


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: its place, its request (batch of one), the checkpoint to load for it (an id
    or a .safetensors path), what its axes set and how they are labelled."""

    ix: int
    iy: int
    iz: int
    request: GenerationRequest
    checkpoint: str
    labels: tuple[str, ...]
    fields: frozenset[str] = field(default_factory=frozenset)


def _checkpoint_id(value: str) -> str:
    """The request's checkpoint id for an axis value: a path's file stem, an id as it is."""
    return Path(value).stem if value.endswith(".safetensors") else value


def _apply(axis: Axis, value: object, request: GenerationRequest) -> GenerationRequest:
    if axis.field == "prompt":
        return request.with_(prompt=request.prompt.replace(axis.values[0], value))
    if axis.field == "checkpoint":
        return request.with_(checkpoint=_checkpoint_id(value), checkpoint_hash="")
    return request.with_(**{axis.field: value})


def _check_axes(base: GenerationRequest, axes: list[Axis]) -> None:
    seen: set[str] = set()
    for axis in axes:
        if axis.field in seen and axis.field != "prompt":  # two S/R axes replace two different texts
            raise RequestError(f"{axis.field} is on two axes; put each field on one axis.")
        seen.add(axis.field)
        if axis.field == "prompt" and axis.values[0] not in base.prompt:
            raise RequestError(f"The prompt S/R axis replaces {axis.values[0][:60]!r}, which the prompt "
                               f"{base.prompt[:60]!r} does not contain.")
        if axis.field == "strength" and not base.init_image:
            raise RequestError("A strength axis needs an input image to start from (--init-image).")
    total = math.prod(len(a.values) for a in axes)
    if total > MAX_CELLS:
        sizes = " x ".join(str(len(a.values)) for a in axes)
        raise RequestError(f"The grid has {total} cells ({sizes}); at most {MAX_CELLS}: use fewer values.")


def grid_cells(base: GenerationRequest, x: Axis, y: Axis | None = None, z: Axis | None = None) -> list[Cell]:
    """Every cell's request, in sheet order (z, then rows y, then columns x), each a batch of one and
    validated: a RequestError names the first bad cell's values before anything is drawn."""
    axes = [a for a in (x, y, z) if a is not None]
    _check_axes(base, axes)
    base = base.with_(batch_size=1)
    source = base.checkpoint
    fields = frozenset(a.field for a in axes)
    cells = []
    for iz in range(len(z.values) if z else 1):
        for iy in range(len(y.values) if y else 1):
            for ix in range(len(x.values)):
                request, checkpoint, labels = base, source, []
                for axis, i in ((a, i) for a, i in zip((x, y, z), (ix, iy, iz)) if a is not None):
                    request = _apply(axis, axis.values[i], request)
                    checkpoint = axis.values[i] if axis.field == "checkpoint" else checkpoint
                    labels.append(axis.label(i))
                try:
                    request.validated()
                except RequestError as e:
                    raise RequestError(f"The grid cell {', '.join(labels)} is refused: {e}") from None
                cells.append(Cell(ix, iy, iz, request, checkpoint, tuple(labels), fields))
    return cells
