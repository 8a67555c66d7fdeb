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
           {"base_channels": 32}, steps=4000, batch_size=128, lr=4e-4, precision="bf16", prompts=True,
           purpose="The headline model: a prompt names a garment, and the live preview shows the clean image it "
                   "predicts at every step. Epsilon prediction: v-prediction with min-SNR-5 won 2x at 600 steps "
                   "but tied at 4000 (FD 1.41 against 1.35 at DPM++(2M) 20, guidance 1.5)."),
    # diffusion-shapes is the pooled model below, given cross-attention to the prompt's tokens (the new
    # layers start as no-ops) and trained on in two stages:
    #   genstudio train diffusion --data shapes --init diffusion-shapes-pooled.safetensors --tokens
    #     --steps 2000 --lr 2e-4 --out stage1.safetensors
    #   genstudio train diffusion --recipe diffusion-shapes --init stage1.safetensors
    # (the recipe holds the second stage).
    Recipe("diffusion-shapes", "diffusion", "shapes", "Diffusion on Shapes (reads the prompt's tokens)", "diffusion",
           {"base_channels": 32, "tokens": True, "min_snr_gamma": 5.0}, steps=4000, batch_size=64, lr=1.5e-4,
           precision="fp32", prompts=True,
           purpose="Compositional prompts (colours, counts, positions): the U-Net attends to the prompt's "
                   "tokens, so each colour can go to its own shape."),
    # genstudio train diffusion --recipe diffusion-shapes-pooled: one pooled sentence vector, no token attention
    Recipe("diffusion-shapes-pooled", "diffusion", "shapes", "Diffusion on Shapes (pooled prompt vector)",
           "diffusion", {"base_channels": 32}, steps=3000, batch_size=64, lr=4e-4, precision="bf16", prompts=True,
           purpose="The baseline for diffusion-shapes: one pooled sentence vector, which cannot say which colour "
                   "belongs to which shape (compare their adherence cards)."),
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
           precision="fp32", prompts=True,
           purpose="Latent diffusion: the U-Net denoises 4x7x7 latents, 16x fewer values than pixels; its "
                   "quality is capped by the autoencoder's reconstructions."),
    # genstudio train diffusion --data shapes-latent --autoencoder autoencoder-shapes.safetensors
    Recipe("diffusion-shapes-latent", "diffusion", "shapes-latent", "Latent diffusion on Shapes", "diffusion",
           {"base_channels": 64}, steps=3000, batch_size=64, lr=4e-4, precision="fp32", prompts=True,
           purpose="Latent diffusion of colour scenes in a 4x8x8 latent."),
)
