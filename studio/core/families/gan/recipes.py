"""How the shipped GANs were trained (read by ``genstudio train gan`` and the Training dock; see
studio.core.training.recipes). Torch-free: data only.

The Faces GAN's attribute directions were found with ``--attribute-classifier
resources/classifiers/faces-attributes.safetensors``: a file, given on the command line, not a setting."""
from ...training.recipes import Recipe

_GAN = {"z_dim": 64, "width": 32, "loss": "hinge"}  # the critic's learning rate is the generator's

RECIPES = (
    # genstudio train gan --data fashion-mnist --width 32 --steps 5000
    Recipe("gan-fmnist", "gan", "fashion-mnist", "GAN on Fashion-MNIST", "gan", dict(_GAN), steps=5000,
           batch_size=64, lr=2e-4, precision="fp32", studio=True, shared=("batch_size", "lr"),
           purpose="An unconditional GAN: one generator pass per image, sliders along its principal directions."),
    # genstudio train gan --data faces --width 32 --steps 5000
    Recipe("gan-faces", "gan", "faces", "GAN on Faces", "gan", dict(_GAN), steps=5000,
           batch_size=64, lr=2e-4, precision="fp32", studio=True, shared=("batch_size", "lr"),
           purpose="Colour faces with attribute sliders (smile, eyes, glasses, head size) found by a classifier."),
)
