"""Bounds on the architecture config a checkpoint's header carries, checked before any model is built.

A config is data from a file: an absurd size in it would make torch allocate until the machine gives
up, and a wrong type would surface as a traceback deep inside a constructor. Each family's torch-free
``config.py`` states its bounds with a ``ConfigReader``; every failure is a CheckpointError naming
the field. Torch-free, so the registry can check a file while it lists it.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NoReturn

from .errors import CheckpointError

# The most weights one layer of a model may have (256 MB of float32): far above any model the studio
# trains, far below what would exhaust a machine's memory.
MAX_LAYER_WEIGHTS = 1 << 26


def describe(value: object, limit: int = 40) -> str:
    """A short, safe rendering of a value for a message (a huge int cannot even be repr'd)."""
    try:
        text = repr(value)
    except ValueError:
        return "a number too long to show"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def kind_of(value: object) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


class ConfigReader:
    """One section (a JSON object) of a family's config, read field by field against bounds.
    Each accessor returns the value the model will be built with (the default when it is absent)."""

    def __init__(self, section: object, family: str, path: str = "") -> None:
        self.family, self.path = family, path  # path: "unet." for a nested section
        if not isinstance(section, dict):
            raise CheckpointError(f"{self._name(path.rstrip('.'))} must be a JSON object, not {kind_of(section)}.")
        self.d = section

    def _name(self, field: str) -> str:
        return f"The {self.family} config's {field}" if field else f"The {self.family} config"

    def fail(self, key: str, value: object, wanted: str) -> NoReturn:
        raise CheckpointError(f"{self._name(self.path + key)} is {describe(value)}; it must be {wanted}.")

    def section(self, key: str, *, required: bool = False) -> ConfigReader:
        if key not in self.d and required:
            raise CheckpointError(f"{self._name('')} has no {self.path}{key} section.")
        return ConfigReader(self.d.get(key, {}), self.family, f"{self.path}{key}.")

    def known_keys(self, keys: Iterable[str]) -> None:
        """For sections passed to a constructor as keyword arguments: an unknown key would be a TypeError."""
        unknown = sorted(set(self.d) - set(keys))
        if unknown:
            raise CheckpointError(f"{self._name(self.path.rstrip('.'))} has unknown settings: "
                                  f"{', '.join(map(describe, unknown[:5]))}.")

    def integer(self, key: str, lo: int, hi: int, default: int, *, multiple_of: int = 1) -> int:
        v = self.d.get(key, default)
        if type(v) is not int or not lo <= v <= hi or v % multiple_of:
            every = f", a multiple of {multiple_of}" if multiple_of > 1 else ""
            self.fail(key, v, f"a whole number from {lo} to {hi}{every}")
        return v

    def one_of(self, key: str, choices: tuple, default: object) -> object:
        v = self.d.get(key, default)
        if type(v) not in (int, str) or v not in choices:  # 1 == True: bools are never a choice
            self.fail(key, v, "one of " + ", ".join(map(repr, choices)))
        return v

    def number(self, key: str, lo: float, hi: float, default: float, *, below_hi: bool = False) -> float:
        v = self.d.get(key, default)
        ok = type(v) in (int, float) and math.isfinite(v) and lo <= v and (v < hi if below_hi else v <= hi)
        if not ok:
            self.fail(key, v, f"a number from {lo} to {hi}" + (" (exclusive)" if below_hi else ""))
        return float(v)

    def int_list(self, key: str, lo: int, hi: int, default: tuple[int, ...], *, min_len: int = 0,
                 max_len: int = 8) -> tuple[int, ...]:
        v = self.d.get(key, default)
        if (not isinstance(v, (list, tuple)) or not min_len <= len(v) <= max_len
                or any(type(x) is not int or not lo <= x <= hi for x in v)):
            n = f"{min_len} to {max_len}" if min_len != max_len else f"{min_len}"
            self.fail(key, v, f"a list of {n} whole numbers from {lo} to {hi}")
        return tuple(v)

    def text(self, key: str, default: str | None = "", *, max_len: int = 1000) -> str | None:
        v = self.d.get(key, default)
        if v is None and default is None:
            return None
        if not isinstance(v, str) or len(v) > max_len:
            self.fail(key, v, f"text of at most {max_len} characters")
        return v

    def text_list(self, key: str, *, max_len: int = 4096, allow_null: bool = False) -> list[str] | None:
        if key not in self.d:
            return None
        v = self.d[key]
        if v is None and allow_null:
            return None
        if not isinstance(v, list) or len(v) > max_len or not all(isinstance(x, str) and len(x) <= 200 for x in v):
            self.fail(key, v, f"a list of at most {max_len} names")
        return v

    def layer(self, weights: int, what: str) -> None:
        """One layer's weight count, from fields already checked one by one (their product is the bound)."""
        if weights > MAX_LAYER_WEIGHTS:
            raise CheckpointError(f"{self._name(self.path.rstrip('.'))} asks for a layer of {weights:,} weights ({what}); at most "
                                  f"{MAX_LAYER_WEIGHTS:,} are allowed.")


def check_latent_extras(config: ConfigReader) -> None:
    """What a latent-space family's config may add: slider names, the latent map's labels."""
    config.text_list("latent_basis_names", allow_null=True)
    config.text("latent_basis_kind", "axes", max_len=100)
    m = config.section("map")
    m.text_list("class_names", max_len=1000)
    m.text("source", "encoded images")
