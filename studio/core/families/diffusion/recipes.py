"""How the shipped diffusion models were trained (read by ``genstudio train diffusion`` and the
Training dock; see studio.core.training.recipes). Torch-free: data only."""
from ...training.recipes import Recipe

RECIPES = (
    # genstudio train diffusion --data fashion-mnist --steps 4000 --batch-size 128
    Recipe("diffusion-fmnist", "diffusion", "fashion-mnist", "Diffusion on Fashion-MNIST", "diffusion",
           {"base_channels": 32}, steps=4000, batch_size=128, lr=4e-4, precision="bf16", prompts=True),
    # genstudio train diffusion --data shapes --steps 3000 --batch-size 64 --channels 32
    Recipe("diffusion-shapes", "diffusion", "shapes", "Diffusion on Shapes", "diffusion",
           {"base_channels": 32}, steps=3000, batch_size=64, lr=4e-4, precision="bf16", prompts=True),
)
