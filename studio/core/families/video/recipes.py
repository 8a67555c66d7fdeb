"""How the shipped video diffusion model was trained (read by ``genstudio train video`` and the
Training dock; see studio.core.training.recipes). Torch-free: data only."""
from ...training.recipes import Recipe

RECIPES = (
    # genstudio train video --init resources/checkpoints/diffusion-shapes.safetensors --out video-shapes.safetensors
    Recipe("video-shapes", "video", "moving-shapes", "Video diffusion on moving Shapes (16 frames)", "video",
           {"base_channels": 32, "min_snr_gamma": 5.0, "p_first": 0.25}, steps=3000, batch_size=8, lr=2e-4,
           precision="fp32", warmup=100, prompts=True,
           purpose="Text-to-video: 16 frames of 32x32 denoised together; the image layers start from "
                   "diffusion-shapes, so training only has to learn how frames move."),
)
