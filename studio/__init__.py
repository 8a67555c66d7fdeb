"""Generative Studio: pick a family of image generators, type a prompt, watch the image form."""

__version__ = "0.1.0"
