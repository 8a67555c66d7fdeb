"""How the shipped autoregressive models (and the VQ-VAE tokenizer the transformer writes codes of)
were trained (read by ``genstudio train pixelcnn|vqvae|ar-transformer``; see
studio.core.training.recipes). Torch-free: data only.

The transformer is trained over a tokenizer file (``--tokenizer
resources/tokenizers/vqvae-fmnist.safetensors`` for the shipped one), given on the command line. The
binary pair (Bernoulli decoder, binarised images) keeps the likelihoods comparable with the VAE's and
the binary PixelCNN's; the grey pair (a logistic decoder over the 8-bit levels) draws grey images."""
from ...training.recipes import Recipe

RECIPES = (
    # genstudio train pixelcnn --steps 5000
    Recipe("pixelcnn-fmnist", "autoregressive", "fashion-mnist", "Gated PixelCNN on binarised Fashion-MNIST",
           "pixelcnn", {"arch": "pixelcnn", "channels": 32, "layers": 7, "head": 64, "captions": True},
           steps=5000, batch_size=64, lr=2e-3, precision="bf16", prompts=True,
           purpose="Binary pixels: its exact likelihood compares with the VAE's in the likelihood table; for "
                   "looking at images, the grey model."),
    # genstudio train pixelcnn --recipe pixelcnn-fmnist-grey (--output softmax: a 256-way softmax head instead)
    #   the raw 8-bit grey levels; sized for about 45 minutes on two CPU cores (1.3 s/step on one thread)
    Recipe("pixelcnn-fmnist-grey", "autoregressive", "fashion-mnist", "Gated PixelCNN on grey Fashion-MNIST",
           "pixelcnn", {"arch": "pixelcnn", "channels": 48, "layers": 12, "head": 96, "captions": True, "levels": 256,
                        "output": "logistic", "mixtures": 10},
           steps=2500, batch_size=64, lr=1e-3, precision="bf16", prompts=True,
           purpose="The PixelCNN to look at: 8-bit grey pixels written one by one, with an exact likelihood in "
                   "bits per grey level."),
    # genstudio train vqvae (its codes average badly: dead codes are restarted in place, so no EMA)
    Recipe("vqvae-fmnist", "autoregressive", "fashion-mnist", "VQ-VAE tokenizer of binarised Fashion-MNIST",
           "vqvae", {"codes": 128, "code_dim": 32, "hidden": 64}, steps=3000, batch_size=128, lr=1e-3,
           precision="fp32", ema_decay=0.0),
    # genstudio train ar-transformer --tokenizer resources/tokenizers/vqvae-fmnist.safetensors --steps 3000
    #   --batch-size 64 --dim 192 --layers 4 --heads 4
    Recipe("ar-transformer-fmnist", "autoregressive", "fashion-mnist",
           "Image transformer over VQ-VAE codes of Fashion-MNIST", "ar-transformer",
           {"arch": "transformer", "dim": 192, "layers": 4, "heads": 4, "captions": True},
           steps=3000, batch_size=64, lr=1e-3, precision="bf16", prompts=True,
           purpose="A transformer writing 7x7 codes of binarised images: its likelihood bound compares with the "
                   "binary models'; for looking at images, the grey one."),
    # genstudio train vqvae --recipe vqvae-fmnist-grey
    #   the raw grey levels, a discretised logistic per pixel; 7x7 codes (14x14 ones reconstructed better
    #   but made the transformer's sequence 4x longer); about 25 minutes (0.34 s/step on one thread, bf16)
    Recipe("vqvae-fmnist-grey", "autoregressive", "fashion-mnist", "VQ-VAE tokenizer of grey Fashion-MNIST",
           "vqvae", {"codes": 512, "code_dim": 32, "hidden": 128, "likelihood": "logistic", "downsample": 4,
                     "mixtures": 1}, steps=4500, batch_size=128, lr=1e-3, precision="bf16", ema_decay=0.0),
    # genstudio train ar-transformer --recipe ar-transformer-fmnist-grey --tokenizer vqvae-fmnist-grey.safetensors
    #   over the grey tokenizer's codes of the raw grey images (it refuses a binary tokenizer); about 25
    #   minutes (0.53 s/step on one thread)
    Recipe("ar-transformer-fmnist-grey", "autoregressive", "fashion-mnist",
           "Image transformer over grey VQ-VAE codes of Fashion-MNIST", "ar-transformer",
           {"arch": "transformer", "dim": 192, "layers": 4, "heads": 4, "captions": True, "grey": True},
           steps=3000, batch_size=64, lr=1e-3, precision="bf16", prompts=True,
           purpose="A transformer writing 7x7 codes that a grey decoder paints: the prompt is its prefix."),
)
