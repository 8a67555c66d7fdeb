"""What each family is and can do, as data readable without torch: the UI lays out its controls at
start-up from here, and every caller asks a family's entry (or the loaded Family) what it can do
instead of naming it. Adding a family is one folder (``module``) and one entry here (or, for a
family defined elsewhere, one ``register_family`` call)."""
from __future__ import annotations

from dataclasses import dataclass

# What a family may declare it can do, each with the methods that go with it (see families.base).
CAPABILITIES = {
    "img2img": "start from a given image (request.init_image; sample(..., init=pixels))",
    "encode": "map images to latent vectors (encode)",
    "decode": "map latent vectors to images (decode); request.latent",
    "redraw": "draw again from a raster position on (request.redraws)",
    "attributes": "named attribute directions in its latent space",
    "likelihood": "a test-set likelihood (likelihood)",
    "edits": "change guidance, prompt, negative prompt or sampler mid-run (request.edits; debug_frames)",
    "preview_modes": "make each step's preview more than one way (preview_modes; set_preview(mode, every)), "
                     "none of which changes the final image",
    "video": "make clips: each image is a filmstrip of ImageFormat.frames frames side by side, played and "
             "exported as GIF or MP4 (an input image is the clip's first frame)",
}
# The controls a family may offer in the UI; each is a field (or fields) of GenerationRequest. "size" is
# width and height: a family with it makes images of the size asked; every other family fills in its
# model's fixed size.
CONTROLS = frozenset({"prompt", "negative_prompt", "steps", "sampler", "guidance", "seed", "batch", "latent",
                      "truncation", "temperature", "top_k", "top_p", "size"})


@dataclass(frozen=True)
class FamilyInfo:
    name: str
    label: str
    controls: frozenset[str]
    samplers: tuple[str, ...] = ()
    description: str = ""
    capabilities: frozenset[str] = frozenset()
    # The family's package: ``<module>.family`` registers its Family, ``<module>.recipes`` holds its
    # training recipes (torch-free).
    module: str = ""
    # What ``steps`` count in its live preview ("step": denoising steps; "row": rows drawn in raster order;
    # "": one frame, nothing to count).
    unit: str = ""
    # The ways its step previews can be made ("preview_modes"), the default first: "linear" (a fixed
    # linear map of the predicted latent to colours, no decoder pass) and "decode" (its decoder).
    preview_modes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = (self.capabilities - CAPABILITIES.keys()) | (self.controls - CONTROLS)
        if unknown:
            raise ValueError(f"family {self.name!r} declares unknown capabilities or controls: {sorted(unknown)}")
        if self.can("preview_modes") != bool(self.preview_modes):
            raise ValueError(f"family {self.name!r}: the preview_modes capability goes with the modes' names")

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def refusal(self, capability: str) -> str:
        """What to say when the family is asked for something it has not declared."""
        what = {
            "img2img": "has no image-to-image path: it cannot start from a given image. Clear the input image "
                       "to generate from scratch, or pick a family that starts from an image ("
                       + (", ".join(families_that("img2img")) or "none") + ").",
            "encode": "has no encoder: its models only map latents to images, so a picture can't be turned "
                      "into a latent vector.",
            "decode": "has no latent vector to set, decode or explore.",
            "redraw": "does not draw in raster order, so it cannot redraw from a position.",
            "attributes": "has no attribute directions to edit.",
            "likelihood": "has no likelihood evaluation.",
            "video": "makes still images, not clips.",
            "preview_modes": "makes its step previews one way only.",
            "edits": "cannot change its settings mid-run: pause, step and rewind work, edits do not. Families "
                     "that can: " + (", ".join(families_that("edits")) or "none") + ".",
        }.get(capability, f"cannot {capability}.")
        return f"The {self.label} family {what}"

    @property
    def no_img2img(self) -> str:
        return self.refusal("img2img")


CATALOG: dict[str, FamilyInfo] = {
    "diffusion": FamilyInfo(
        "diffusion", "Diffusion",
        frozenset({"prompt", "negative_prompt", "steps", "sampler", "guidance", "seed", "batch"}),
        ("dpm++2m", "ddim", "ddpm", "dpm++2m-karras", "euler", "heun"),  # the first is the default
        "Starts from pure noise and removes a little of it at every step (DDPM); the preview shows "
        "the model's current guess of the clean image.",
        frozenset({"img2img", "edits"}), "studio.core.families.diffusion", "step",
    ),
    "vae": FamilyInfo(
        "vae", "VAE",
        frozenset({"prompt", "seed", "batch", "latent"}),
        (),
        "An encoder maps an image to a Gaussian over a small latent vector; the decoder maps a latent "
        "back to an image. Generating draws the vector from the standard-normal prior and decodes it.",
        frozenset({"encode", "decode", "likelihood"}), "studio.core.families.vae",
    ),
    "gan": FamilyInfo(
        "gan", "GAN",
        frozenset({"seed", "batch", "latent", "truncation"}),
        (),
        "A generator learns to turn a random vector into an image that a discriminator (a real-or-fake "
        "critic trained against it) cannot tell from real data. Generating decodes a seeded vector.",
        frozenset({"decode", "attributes"}), "studio.core.families.gan",
    ),
    "autoregressive": FamilyInfo(
        "autoregressive", "Autoregressive",
        frozenset({"prompt", "sampler", "seed", "batch", "temperature", "top_k", "top_p"}),
        ("cached", "naive"),
        "Writes the image one position at a time in reading order, each drawn from a distribution "
        "computed from everything drawn before it: pixels (Gated PixelCNN) or the codes of a small "
        "VQ-VAE (a transformer, with the prompt as its prefix). 'naive' re-runs the whole network for "
        "every position; 'cached' reuses what earlier positions computed and gives the same image. "
        "Given an input image, it keeps its top rows and completes the rest.",
        frozenset({"img2img", "redraw", "likelihood"}), "studio.core.families.autoregressive", "row",
    ),
    "video": FamilyInfo(
        "video", "Video diffusion",
        frozenset({"prompt", "negative_prompt", "steps", "sampler", "guidance", "seed", "batch"}),
        ("dpm++2m", "ddim", "ddpm", "dpm++2m-karras", "euler", "heun"),
        "Diffusion over a whole clip: all its frames start as noise and are denoised together by a "
        "space-time U-Net (per-frame layers, plus layers that look across frames), so motion and the "
        "objects stay consistent. The preview shows every frame's current guess as a filmstrip. Given "
        "an input image, it makes a clip that starts from it.",
        frozenset({"img2img", "video"}), "studio.core.families.video", "step",
    ),
    "pipeline": FamilyInfo(
        "pipeline", "Stable Diffusion (your model)",
        frozenset({"prompt", "negative_prompt", "steps", "sampler", "guidance", "seed", "batch", "size"}),
        ("dpm++2m", "ddim", "ddpm", "dpm++2m-karras", "euler", "heun"),
        "A Stable Diffusion 1.x/2.x model you already have (a diffusers folder or a single .safetensors "
        "file, read from disk, never downloaded), run by the studio's own samplers: its U-Net denoises a "
        "latent under the CLIP text encoder's reading of the prompt, and its VAE decodes the result. The "
        "preview maps each step's predicted latent to colours linearly (or decodes it every few steps).",
        frozenset({"img2img", "preview_modes"}), "studio.core.families.pipeline", "step", ("linear", "decode"),
    ),
}


def families_that(capability: str) -> list[str]:
    return [info.label for info in CATALOG.values() if capability in info.capabilities]


def register_family(info: FamilyInfo) -> FamilyInfo:
    """Add a family defined outside this package (a plugin, or a test's toy family)."""
    CATALOG[info.name] = info
    return info
