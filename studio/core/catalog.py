"""What each family offers, known without loading torch, so the UI can lay out its controls
at start-up. The family implementations (studio.core.families) take their controls from here."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FamilyInfo:
    name: str
    label: str
    # Subset of {"prompt", "negative_prompt", "steps", "sampler", "guidance", "seed", "batch", "latent",
    # "truncation", "temperature", "top_k", "top_p"}
    controls: frozenset[str]
    samplers: tuple[str, ...] = ()
    description: str = ""
    img2img: bool = False  # can start from a given image (SDEdit for diffusion)

    @property
    def no_img2img(self) -> str:
        """What to say when an input image is given to a family that cannot use one."""
        return (f"The {self.label} family has no image-to-image path: it cannot start from a given image. "
                "Clear the input image to generate from scratch, or pick Diffusion or Autoregressive.")


CATALOG: dict[str, FamilyInfo] = {
    "diffusion": FamilyInfo(
        "diffusion", "Diffusion",
        frozenset({"prompt", "negative_prompt", "steps", "sampler", "guidance", "seed", "batch"}),
        ("ddim", "ddpm", "dpm++2m"),
        "Starts from pure noise and removes a little of it at every step (DDPM); the preview shows "
        "the model's current guess of the clean image.",
        img2img=True,
    ),
    "vae": FamilyInfo(
        "vae", "VAE",
        frozenset({"prompt", "seed", "batch", "latent"}),
        (),
        "An encoder maps an image to a Gaussian over a small latent vector; the decoder maps a latent "
        "back to an image. Generating draws the vector from the standard-normal prior and decodes it.",
    ),
    "gan": FamilyInfo(
        "gan", "GAN",
        frozenset({"seed", "batch", "latent", "truncation"}),
        (),
        "A generator learns to turn a random vector into an image that a discriminator (a real-or-fake "
        "critic trained against it) cannot tell from real data. Generating decodes a seeded vector.",
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
        img2img=True,
    ),
}
