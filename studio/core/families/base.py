"""The one interface every generator family implements, so no caller needs a family's name.

What a family can do is declared data (its CATALOG entry: controls, samplers, capabilities); a
loaded model adds what depends on its checkpoint (image format, whether it reads prompts, its latent
size). Every capability has its methods here; a family that does not declare one refuses it with
the catalog's message."""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..catalog import CATALOG, FamilyInfo
from ..checkpoint import Checkpoint
from ..errors import RequestError, StudioError
from ..events import Frame
from ..pixels import content_hash
from ..request import MAX_BATCH, GenerationRequest

if TYPE_CHECKING:
    import torch

    from ..latent_space.basis import LatentBasis
    from ..latent_space.family import LatentMap
    from ..prompt.encoder import PromptEncoder
    from ..training.trainer import TrainTask

FAMILIES: dict[str, type["Family"]] = {}


def register(cls: type["Family"]) -> type["Family"]:
    FAMILIES[cls.name] = cls
    return cls


def get_family(name: str) -> type["Family"]:
    """The Family class of ``name``, imported from its catalog entry's package on first use."""
    if name not in FAMILIES:
        info = CATALOG.get(name)
        if info is None:
            raise StudioError(f"Unknown model family {name!r}; known: {', '.join(sorted(CATALOG))}.")
        importlib.import_module(f"{info.module}.family")  # registers the class
    try:
        return FAMILIES[name]
    except KeyError:
        raise StudioError(f"The {name} family's package {CATALOG[name].module} registers no Family.") from None


@dataclass(frozen=True)
class ImageFormat:
    """What a model's images are: (height, width, channels) uint8, and how their values are meant."""

    width: int
    height: int
    channels: int  # 1 or 3
    kind: str  # "grey", "binary" (only 0 and 255) or "rgb"
    # A video family's images are filmstrips: ``frames`` frames of frame_width x height side by side.
    frames: int = 1
    # Light objects on a dark ground, as the studio's data sets are: a light-bordered input is inverted.
    dark_background: bool = True

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.height, self.width, self.channels

    @property
    def frame_width(self) -> int:
        return self.width // self.frames

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """One frame's (height, width, channels): a still image's whole shape."""
        return self.height, self.frame_width, self.channels

    def describe(self) -> str:
        if self.frames > 1:
            return f"{self.frames} frames of {self.frame_width}x{self.height} {self.kind}"
        return f"{self.width}x{self.height} {self.kind}"


@dataclass(frozen=True)
class EvalSetup:
    """How a family's samples are made for the evaluations: the request every sample starts from
    (prompt and seed are filled in per block) and what to write on the card about it."""

    request: GenerationRequest
    settings: dict[str, Any]


class Family(ABC):
    """A loaded generator. ``sample`` yields one Frame per step so cancelling takes effect at once."""

    name: ClassVar[str]
    info: ClassVar[FamilyInfo]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            cls.info = CATALOG[cls.name]

    def __init__(self, checkpoint: Checkpoint, device: str) -> None:
        self.checkpoint = checkpoint
        self.device = device

    @classmethod
    def from_checkpoint(cls, path: Path, device: str = "cpu", **options) -> "Family":
        from ..checkpoint import load

        return cls(load(path, family=cls.name), device, **options)

    # --- what it is -----------------------------------------------------------------------------
    @property
    def preview_modes(self) -> tuple[str, ...]:
        """The ways it can make each step's preview ("preview_modes"), the one in use first; () when one."""
        return ()

    def set_preview(self, mode: str, every: int = 1) -> None:
        """Make the following runs' step previews ``mode`` (one of preview_modes), an expensive one only
        every ``every`` steps (the last one made stays up in between). Never changes the final image."""
        self.require("preview_modes")

    @property
    def label(self) -> str:
        return self.info.label

    @property
    def controls(self) -> frozenset[str]:
        return self.info.controls

    @property
    def samplers(self) -> tuple[str, ...]:
        return self.info.samplers

    @property
    def capabilities(self) -> frozenset[str]:
        """The family's declared capabilities; a model may have fewer (a GAN without attributes)."""
        return self.info.capabilities

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def require(self, capability: str) -> None:
        if not self.can(capability):
            raise StudioError(self.info.refusal(capability))

    @property
    @abstractmethod
    def image_format(self) -> ImageFormat: ...

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.image_format.width, self.image_format.height

    @property
    def conditional(self) -> bool:
        """Whether this model reads the prompt."""
        return False

    @property
    def latent_dim(self) -> int:
        """Size of the latent vector for families that ``decode``; 0 for the others."""
        return 0

    @property
    def encoder(self) -> "PromptEncoder | None":
        """The prompt encoder this model uses, if any (loaded on first use)."""
        return None

    # --- requests -------------------------------------------------------------------------------
    def default_request(self) -> GenerationRequest:
        f = self.image_format
        return GenerationRequest(family=self.name, checkpoint=self.checkpoint.id,
                                 checkpoint_hash=self.checkpoint.sha256, width=f.width, height=f.height,
                                 sampler=self.samplers[0] if self.samplers else "")

    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        """The complete request: validated, this checkpoint's hash and image size filled in, only what
        this family and model use kept (no stray "ddim" or prompt-box text on a GAN's PNG), and
        refused (with the catalog's message) where it asks for what this family cannot do."""
        f = self.image_format
        req = request.with_(family=self.name, checkpoint=self.checkpoint.id, checkpoint_hash=self.checkpoint.sha256,
                            width=f.width, height=f.height)
        req = req.validated().normalized(conditional=self.conditional)  # the defaults it puts back are valid
        for capability, asked in (("img2img", req.init_image), ("redraw", req.redraws), ("decode", req.latent),
                                  ("edits", req.edits)):
            if asked:
                self.require(capability)
        if req.latent and len(req.latent) != self.latent_dim:
            raise RequestError(f"{self.checkpoint.id} has a {self.latent_dim}-D latent; got a vector of "
                               f"{len(req.latent)} values.")
        return req

    def check_init(self, request: GenerationRequest, init: np.ndarray | None) -> np.ndarray | None:
        """The input image's pixels for an image-to-image request, checked against the request's hash
        and this model's format (the family receives pixels; where they are kept is not its business)."""
        if not request.init_image:
            return None
        if init is None:
            raise StudioError("This request starts from an input image, but its pixels were not given.")
        init = np.asarray(init)
        f = self.image_format
        if init.dtype != np.uint8 or init.ndim != 3 or init.shape != f.frame_shape:
            shown = f"{init.shape[1]}x{init.shape[0]} with {init.shape[-1]} channel(s)" if init.ndim == 3 else \
                f"an array of shape {init.shape}"
            wanted = f"{f.frame_width}x{f.height} {f.kind} first frames" if f.frames > 1 else f"{f.describe()} images"
            raise StudioError(f"The input image is {shown}; {self.checkpoint.id} works on {wanted}: drop the "
                              "image again with this model selected.")
        if content_hash(init) != request.init_image:
            raise StudioError("The input image's pixels do not match the hash the request names.")
        return init

    # --- generating -----------------------------------------------------------------------------
    def sample(self, request: GenerationRequest, *, init: np.ndarray | None = None,
               want_noisy: bool = False) -> Iterator[Frame]:
        """One batch (batch_size ≤ MAX_BATCH) of the request, one Frame per step; the last is final.
        Image i of a batch with seed s is image 0 of seed s + i. ``init``: the input image's pixels
        for an image-to-image request."""
        req = self.resolve(request)
        return self.frames(req, self.check_init(req, init), want_noisy)

    @abstractmethod
    def frames(self, request: GenerationRequest, init: np.ndarray | None, want_noisy: bool) -> Iterator[Frame]:
        """What ``sample`` runs on a resolved request, with the input image checked."""

    def debug_frames(self, request: GenerationRequest, *, init: np.ndarray | None = None, want_noisy: bool = False,
                     resume: Any = None) -> Iterator[Frame]:
        """``sample``, each Frame carrying a state (``frame.state``) that ``resume`` goes on from, so the
        step debugger can rewind and branch with other settings. Capability "edits"."""
        self.require("edits")
        raise NotImplementedError

    def generate(self, request: GenerationRequest, *, init: np.ndarray | None = None) -> np.ndarray:
        """Run one batch to the end and return the final (B, H, W, C) uint8 images."""
        frame = None
        for frame in self.sample(request, init=init):
            pass
        return frame.preview

    def batches(self, request: GenerationRequest, n: int, *, init: np.ndarray | None = None
                ) -> Iterator[tuple[GenerationRequest, np.ndarray]]:
        """``n`` images of ``request`` in batches of at most MAX_BATCH: each batch's request (its seed
        is the request's seed plus the images made before it) and its images, as they are made."""
        if n < 1:
            raise RequestError(f"The number of images must be at least 1 (got {n}).")
        request = self.resolve(request)
        if request.latent and n != 1:
            raise RequestError("A request with an explicit latent vector makes one image.")
        for start in range(0, n, MAX_BATCH):
            req = request.with_(seed=request.seed + start, batch_size=min(MAX_BATCH, n - start))
            yield req, self.generate(req, init=init)

    def generate_many(self, request: GenerationRequest, n: int, *, init: np.ndarray | None = None) -> np.ndarray:
        """(n, H, W, C) uint8: image j is image 0 of the request at seed + j, for any n."""
        return np.concatenate([images for _, images in self.batches(request, n, init=init)])

    # --- capabilities (each refused unless declared) --------------------------------------------
    def encode(self, images: np.ndarray, prompt: str = "") -> np.ndarray:
        """(N, H, W, C) uint8 -> (N, D) latent means. Capability "encode"."""
        self.require("encode")
        raise NotImplementedError

    def decode(self, z: np.ndarray, prompt: str = "") -> np.ndarray:
        """(N, D) latents -> (N, H, W, C) uint8. Capability "decode"."""
        self.require("decode")
        raise NotImplementedError

    def prior_latents(self, seed: int, n: int, truncation: float = 1.0) -> np.ndarray:
        """The latents the seeds seed .. seed + n - 1 draw. Capability "decode"."""
        self.require("decode")
        raise NotImplementedError

    @property
    def basis(self) -> "LatentBasis":
        """The latent panel's sliders (capability "decode"): named directions, or the raw axes."""
        self.require("decode")
        from ..latent_space.basis import LatentBasis

        return LatentBasis.axes(self.latent_dim)

    @property
    def basis_kind(self) -> str:
        """What the sliders are: "axes", "pcs" (principal directions) or "attributes+pcs"."""
        return "axes"

    # Where principal-direction sliders come from, for the latent panel's tooltip.
    pcs_source: ClassVar[str] = ""

    @property
    def latent_map(self) -> "LatentMap | None":
        """Encoded images to scatter over the latent map, if the checkpoint ships them."""
        return None

    def likelihood(self, data_dir: str | None = None, **options) -> dict:
        """Test-set likelihood figures for the card. Capability "likelihood"."""
        self.require("likelihood")
        raise NotImplementedError

    # --- evaluation -----------------------------------------------------------------------------
    def eval_setup(self, *, steps: int = 50, sampler: str = "", guidance: float = 3.0) -> EvalSetup:
        """How the evaluations sample this model. Families without steps or guidance ignore them."""
        return EvalSetup(self.default_request(), {"sampler": self.default_request().sampler or "one pass"})

    def as_shown(self, images: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str] | None:
        """Real (N, H, W, C) uint8 images as this model shows its own samples (binarised, or through
        a tokenizer and back), the fair reference for its figures; None when it shows them as they are."""
        return None

    # --- training -------------------------------------------------------------------------------
    @classmethod
    def train_task(cls, dataset: str, **options) -> "TrainTask":
        """How this family trains: a fresh model, its loss on one batch and a batch stream, for the
        shared Trainer."""
        raise StudioError(f"The {cls.info.label} family cannot be trained yet.")


class PromptConditioned:
    """For families whose models may or may not read the prompt (``model.conditional``): the prompt
    encoder is loaded only for those that do, and ``_cond`` turns a prompt into their condition."""

    _encoder: "PromptEncoder | None" = None
    model: Any
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
