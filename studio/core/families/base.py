"""The small interface every generator family implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..catalog import CATALOG
from ..checkpoint import Checkpoint
from ..errors import StudioError
from ..events import Frame
from ..request import GenerationRequest

if TYPE_CHECKING:
    import torch

    from ..prompt.encoder import PromptEncoder
    from ..training.trainer import TrainTask

FAMILIES: dict[str, type["Family"]] = {}


def register(cls: type["Family"]) -> type["Family"]:
    FAMILIES[cls.name] = cls
    return cls


def get_family(name: str) -> type["Family"]:
    try:
        return FAMILIES[name]
    except KeyError:
        raise StudioError(f"Unknown model family {name!r}; known: {', '.join(sorted(FAMILIES))}.") from None


class Family(ABC):
    """A loaded generator. ``sample`` yields one Frame per step so cancelling takes effect at once."""

    name: ClassVar[str]
    label: ClassVar[str]
    # Which controls the UI offers: a subset of those named in core.catalog.FamilyInfo.
    controls: ClassVar[frozenset[str]]
    samplers: ClassVar[tuple[str, ...]] = ()
    img2img: ClassVar[bool] = False  # can start from a given image (request.init_image)

    def __init_subclass__(cls, **kwargs) -> None:
        """A family's label, controls, samplers and img2img are its CATALOG entry: one place, readable
        without torch."""
        super().__init_subclass__(**kwargs)
        info = CATALOG.get(getattr(cls, "name", ""))
        if info is not None:
            cls.label, cls.controls, cls.samplers = info.label, info.controls, info.samplers
            cls.img2img = info.img2img

    def __init__(self, checkpoint: Checkpoint, device: str) -> None:
        self.checkpoint = checkpoint
        self.device = device

    @classmethod
    @abstractmethod
    def from_checkpoint(cls, path: Path, device: str = "cpu") -> "Family": ...

    @property
    def image_size(self) -> tuple[int, int]:
        raise NotImplementedError

    def default_request(self) -> GenerationRequest:
        w, h = self.image_size
        return GenerationRequest(family=self.name, checkpoint=self.checkpoint.id,
                                 checkpoint_hash=self.checkpoint.sha256, width=w, height=h)

    @abstractmethod
    def sample(self, request: GenerationRequest, *, want_noisy: bool = False) -> Iterator[Frame]: ...

    def checked(self, request: GenerationRequest) -> GenerationRequest:
        """The request validated, and refused if it asks for what this family cannot do."""
        req = request.validated()
        if req.init_image and not self.img2img:
            raise StudioError(CATALOG[self.name].no_img2img)
        return req

    @classmethod
    def train_task(cls, dataset: str, **options) -> "TrainTask":
        """How this family trains: a fresh model, its loss on one batch and a batch stream, for the
        shared Trainer."""
        raise StudioError(f"The {cls.label} family cannot be trained yet.")


class PromptConditioned:
    """For families whose models may or may not read the prompt (``model.conditional``): the prompt
    encoder is loaded only for those that do, and ``_cond`` turns a prompt into their condition."""

    _encoder: "PromptEncoder | None" = None
    model: object
    device: str

    @property
    def conditional(self) -> bool:
        return bool(self.model.conditional)

    @property
    def encoder(self) -> "PromptEncoder | None":
        if not self.conditional:
            return None
        if self._encoder is None:
            from ..prompt.encoder import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder

    def _cond(self, prompt: str, n: int) -> "torch.Tensor | None":
        if not self.conditional:
            return None
        from ..prompt.blend import embed_prompts

        return embed_prompts(self.encoder, [prompt])[0:1].expand(n, -1).to(self.device)
