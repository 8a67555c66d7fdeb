"""Bounds on an autoregressive checkpoint's config (a Gated PixelCNN, or a transformer over a VQ-VAE's
codes), checked before any model is built (torch-free, so the registry checks a file while it lists
it). The defaults are PixelCNNConfig's, TransformerConfig's and VQVAEConfig's (a test keeps them equal)."""
from __future__ import annotations

from ...config_bounds import ConfigReader

PIXELCNN_DEFAULTS = {"image_size": 28, "levels": 2, "channels": 64, "layers": 8, "kernel": 3, "first_kernel": 7,
                     "head": 128, "cond_dim": 0, "output": "softmax", "mixtures": 10}
PIXELCNN_OUTPUTS = ("softmax", "logistic")  # PixelCNNConfig's heads (pixelcnn.OUTPUTS; a test keeps them equal)
TRANSFORMER_DEFAULTS = {"vocab": 128, "grid": 7, "dim": 192, "layers": 4, "heads": 4, "prefix": 4, "cond_dim": 0}
VQVAE_DEFAULTS = {"image_size": 28, "channels": 1, "hidden": 64, "codes": 128, "code_dim": 32, "commitment": 0.25,
                  "likelihood": "bernoulli", "downsample": 4, "mixtures": 1}
VQVAE_LIKELIHOODS = ("bernoulli", "logistic")  # vqvae.LIKELIHOODS (a test keeps them equal)
VQVAE_DOWNSAMPLES = (2, 4)  # vqvae.DOWNSAMPLES
ARCHS = ("pixelcnn", "transformer")


def check_config(config: dict) -> None:
    """A CheckpointError naming the field for anything the model cannot be built from in sane memory."""
    top = ConfigReader(config, "autoregressive")
    if top.d.get("arch") not in ARCHS:
        top.fail("arch", top.d.get("arch"), "one of " + ", ".join(map(repr, ARCHS)))
    if top.d["arch"] == "pixelcnn":
        _pixelcnn(top.section("pixelcnn"))
    else:
        _transformer(top.section("transformer"), top.section("vqvae"))


def _pixelcnn(p: ConfigReader) -> None:
    dflt = PIXELCNN_DEFAULTS
    p.integer("image_size", 4, 512, dflt["image_size"])
    levels = p.integer("levels", 2, 256, dflt["levels"])
    c = p.integer("channels", 1, 1024, dflt["channels"])
    layers = p.integer("layers", 0, 64, dflt["layers"])
    k = p.integer("kernel", 1, 15, dflt["kernel"])
    if k % 2 == 0:
        p.fail("kernel", k, "odd")
    first = p.integer("first_kernel", 3, 15, dflt["first_kernel"])
    if first % 2 == 0:
        p.fail("first_kernel", first, "odd")
    head = p.integer("head", 1, 1024, dflt["head"])
    cond = p.integer("cond_dim", 0, 4096, dflt["cond_dim"])
    output = p.one_of("output", PIXELCNN_OUTPUTS, dflt["output"])
    mixtures = p.integer("mixtures", 1, 32, dflt["mixtures"])
    p.layer(2 * c * c * k * k, "channels x channels x kernel^2")
    p.layer(cond * 2 * c * (layers + 1), "cond_dim x 2 channels x (layers + 1)")
    outputs = levels if output == "softmax" else 3 * mixtures  # a logit per level, or 3 numbers per component
    p.layer(head * max(c, outputs), "the output head")


def _transformer(t: ConfigReader, vq: ConfigReader) -> None:
    dflt = TRANSFORMER_DEFAULTS
    vocab = t.integer("vocab", 2, 65_536, dflt["vocab"])
    grid = t.integer("grid", 1, 64, dflt["grid"])
    heads = t.integer("heads", 1, 64, dflt["heads"])
    dim = t.integer("dim", heads, 1024, dflt["dim"], multiple_of=heads)
    t.integer("layers", 1, 48, dflt["layers"])
    prefix = t.integer("prefix", 1, 64, dflt["prefix"])
    cond = t.integer("cond_dim", 0, 4096, dflt["cond_dim"])
    t.layer(vocab * dim, "vocab x dim")
    t.layer(max(cond, 1) * prefix * dim, "cond_dim x prefix x dim")
    v = VQVAE_DEFAULTS
    down = vq.one_of("downsample", VQVAE_DOWNSAMPLES, v["downsample"])
    size = vq.integer("image_size", 4, 512, v["image_size"], multiple_of=down)
    channels = vq.one_of("channels", (1, 3), v["channels"])
    hidden = vq.integer("hidden", 2, 1024, v["hidden"], multiple_of=2)
    codes = vq.integer("codes", 2, 65_536, v["codes"])
    code_dim = vq.integer("code_dim", 1, 1024, v["code_dim"])
    vq.number("commitment", 0.0, 100.0, v["commitment"])
    grey = vq.one_of("likelihood", VQVAE_LIKELIHOODS, v["likelihood"]) == "logistic"
    mixtures = vq.integer("mixtures", 1, 32, v["mixtures"])
    vq.layer(codes * code_dim, "codes x code_dim")
    vq.layer(hidden // 2 * channels * (3 * mixtures if grey else 1) * 16, "the decoder's last layer")
    if codes != vocab:  # the transformer writes the tokenizer's codes: one vocabulary
        t.fail("vocab", vocab, f"the VQ-VAE's number of codes ({codes})")
    if size // down != grid:
        t.fail("grid", grid, f"the VQ-VAE's code grid (image_size / {down} = {size // down})")
