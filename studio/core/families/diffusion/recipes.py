"""How the shipped diffusion models (and latent diffusion's autoencoders) were trained (read by
``genstudio train diffusion|autoencoder`` and the Training dock; see studio.core.training.recipes).
Torch-free: data only.

The newer recipes run in fp32: bf16 autocast was about ten times slower than fp32 on a build machine
without AVX512-BF16 or AMX; on one with AVX512-BF16 (AMD EPYC) it is faster, so pass --precision bf16
there. The card records the precision a model was trained in."""
from ...training.recipes import Recipe

RECIPES = (
    # genstudio train diffusion --data fashion-mnist --steps 4000 --batch-size 128
    Recipe("diffusion-fmnist", "diffusion", "fashion-mnist", "Diffusion on Fashion-MNIST", "diffusion",
           {"base_channels": 32}, steps=4000, batch_size=128, lr=4e-4, precision="bf16", prompts=True),
    # genstudio train diffusion --recipe diffusion-shapes --init diffusion-shapes-pooled.safetensors: the pooled
    # model below, given cross-attention to the prompt's tokens and trained on (the new layers start as no-ops)
    Recipe("diffusion-shapes", "diffusion", "shapes", "Diffusion on Shapes (reads the prompt's tokens)", "diffusion",
           {"base_channels": 32, "tokens": True}, steps=2000, batch_size=64, lr=2e-4, precision="fp32",
           prompts=True),
    # genstudio train diffusion --recipe diffusion-shapes-pooled: one pooled sentence vector, no token attention
    Recipe("diffusion-shapes-pooled", "diffusion", "shapes", "Diffusion on Shapes (pooled prompt vector)",
           "diffusion", {"base_channels": 32}, steps=3000, batch_size=64, lr=4e-4, precision="bf16", prompts=True),
    # Latent diffusion (Rombach et al. 2022) in two stages: the KL autoencoder (a component of family
    # "autoencoder", not a generator), then the denoiser in its latent, which embeds a copy of it.
    # genstudio train autoencoder --data fashion-mnist --out autoencoder-fmnist.safetensors
    Recipe("autoencoder-fmnist", "diffusion", "fashion-mnist", "KL autoencoder of Fashion-MNIST (1x28x28 -> 4x7x7)",
           "autoencoder", {"base_channels": 16, "latent_channels": 4}, steps=1200, batch_size=64, lr=1e-3,
           precision="fp32"),
    # genstudio train autoencoder --data shapes --out autoencoder-shapes.safetensors
    Recipe("autoencoder-shapes", "diffusion", "shapes", "KL autoencoder of Shapes (3x32x32 -> 4x8x8)",
           "autoencoder", {"base_channels": 32, "latent_channels": 4}, steps=3000, batch_size=64, lr=1e-3,
           precision="fp32"),
    # genstudio train diffusion --data fashion-mnist-latent --autoencoder autoencoder-fmnist.safetensors
    Recipe("diffusion-fmnist-latent", "diffusion", "fashion-mnist-latent", "Latent diffusion on Fashion-MNIST",
           "diffusion", {"base_channels": 32, "prediction": "v", "min_snr_gamma": 5.0}, steps=3000, batch_size=128, lr=4e-4,
           precision="fp32", prompts=True),
    # genstudio train diffusion --data shapes-latent --autoencoder autoencoder-shapes.safetensors
    Recipe("diffusion-shapes-latent", "diffusion", "shapes-latent", "Latent diffusion on Shapes", "diffusion",
           {"base_channels": 64}, steps=3000, batch_size=64, lr=4e-4, precision="fp32", prompts=True),
)
