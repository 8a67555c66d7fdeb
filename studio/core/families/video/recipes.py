"""How the shipped video diffusion model was trained (read by ``genstudio train video`` and the
Training dock; see studio.core.training.recipes). Torch-free: data only."""
from ...training.recipes import Recipe

RECIPES = (
    # Two stages, both warm starts:
    #   genstudio train video --init resources/checkpoints/diffusion-shapes.safetensors --shared-noise 0
    #     --out stage1.safetensors   (independent noise per frame; stopped at step 1030)
    #   genstudio train video --recipe video-shapes --init stage1.safetensors --out video-shapes.safetensors
    # (the recipe holds the second stage: the mixed noise prior, half the variance shared by all frames).
    Recipe("video-shapes", "video", "moving-shapes", "Video diffusion on moving Shapes (16 frames)", "video",
           {"base_channels": 32, "min_snr_gamma": 5.0, "p_first": 0.25, "shared_noise": 0.5}, steps=2000,
           batch_size=8, lr=2e-4, precision="fp32", warmup=50, prompts=True,
           purpose="Text-to-video: 16 frames of 32x32 denoised together; the image layers start from "
                   "diffusion-shapes, so training only has to learn how frames move."),
)
