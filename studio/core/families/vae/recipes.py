"""How the shipped VAEs were trained (read by ``genstudio train vae`` and the Training dock; see
studio.core.training.recipes). Torch-free: data only."""
from ...training.recipes import Recipe

RECIPES = (
    # genstudio train vae --latent-dim 2 --steps 12000
    Recipe("vae-fmnist-2d", "vae", "fashion-mnist", "VAE (2-D latent) on Fashion-MNIST", "vae",
           {"latent_dim": 2, "beta": 1.0, "captions": False}, steps=12000, batch_size=128, lr=1e-3,
           precision="fp32", studio=True,
           purpose="The map model: its whole latent space is one 2-D plane the latent panel draws and you can drag "
                   "across, at the price of blurrier, less varied images than the 32-D model's."),
    # genstudio train vae --latent-dim 32 --captions --steps 15000
    Recipe("vae-fmnist-32d-text", "vae", "fashion-mnist", "VAE (32-D latent, prompted) on Fashion-MNIST", "vae",
           {"latent_dim": 32, "beta": 1.0, "captions": True}, steps=15000, batch_size=128, lr=1e-3,
           precision="fp32",
           purpose="The VAE to generate with: a prompt picks the garment and a 32-D latent holds the rest, so its "
                   "images are sharper and more varied than the map model's."),
)
