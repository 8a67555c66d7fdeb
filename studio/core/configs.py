"""Architecture configs as they travel in a checkpoint's header: plain JSON dictionaries."""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import TypeVar

C = TypeVar("C", bound="DictConfig")


class DictConfig:
    """For frozen dataclasses: ``to_dict`` for the header, ``from_dict`` ignoring keys it does not
    know (so a newer file's extra settings do not stop an older studio from reading it)."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], d: dict) -> C:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in known})
