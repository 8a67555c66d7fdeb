"""Every family checks a checkpoint's config against sane bounds before building anything from it:
an absurd size is a CheckpointError naming the field (not an allocation of petabytes), and whatever
the check lets through builds and runs (so the bounds are not looser than the models)."""
import copy
import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from studio.core import checkpoint
from studio.core.cards import check_family_config
from studio.core.errors import CheckpointError
from studio.core.families import load_family
from studio.store.paths import resources_dir
from tests import conftest

MAKERS = {"diffusion": conftest.make_tiny_checkpoint, "vae": conftest.make_tiny_vae, "gan": conftest.make_tiny_gan,
          "pixelcnn": conftest.make_tiny_pixelcnn, "transformer": conftest.make_tiny_ar_transformer,
          "video": conftest.make_tiny_video}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, checkpoint.Checkpoint]:
    d = tmp_path_factory.mktemp("tiny")
    return {name: checkpoint.load(make(d / f"{name}.safetensors")) for name, make in MAKERS.items()}


def rewrite(ck: checkpoint.Checkpoint, path: Path, config: dict) -> Path:
    """``ck``'s weights under another config, written without any check (as a hostile file would be)."""
    meta = {"format": checkpoint.FORMAT, "family": ck.family, "config": json.dumps(config), "extra": "{}"}
    save_file({k: v.contiguous() for k, v in ck.tensors.items()}, str(path), metadata=meta)
    return path


def test_defaults_are_the_model_configs_defaults():
    from studio.core.denoising import bounds
    from studio.core.denoising.schedule import ScheduleConfig
    from studio.core.denoising.unet import UNetConfig
    from studio.core.families.autoregressive import config as ar
    from studio.core.families.autoregressive.pixelcnn import PixelCNNConfig
    from studio.core.families.autoregressive.transformer import TransformerConfig
    from studio.core.families.autoregressive.vqvae import VQVAEConfig
    from studio.core.families.gan import config as gan
    from studio.core.families.gan.model import GANConfig
    from studio.core.families.vae import config as vae
    from studio.core.families.vae.model import VAEConfig
    from studio.core.families.video import config as video
    from studio.core.families.video.model import VideoConfig

    pairs = [(bounds.UNET_DEFAULTS, UNetConfig()), (bounds.SCHEDULE_DEFAULTS, ScheduleConfig()),
             (vae.VAE_DEFAULTS, VAEConfig()), (gan.GAN_DEFAULTS, GANConfig()),
             (ar.PIXELCNN_DEFAULTS, PixelCNNConfig()), (ar.TRANSFORMER_DEFAULTS, TransformerConfig()),
             (ar.VQVAE_DEFAULTS, VQVAEConfig()), (video.VIDEO_DEFAULTS, VideoConfig())]
    for defaults, config in pairs:
        assert defaults == {k: tuple(v) if isinstance(v, list) else v for k, v in asdict(config).items()}


def test_shipped_and_tiny_configs_pass(tiny):
    for ck in tiny.values():
        check_family_config(ck.family, ck.config, ck.path.name)
    for path in sorted((resources_dir() / "checkpoints").glob("*.safetensors")):
        from studio.core.cards import header_json, read_header_metadata

        meta = read_header_metadata(path)
        check_family_config(meta["family"], header_json(meta, "config", path.name), path.name)


ABSURD = [
    ("diffusion", {("unet", "image_size"): 100_000}, "unet.image_size"),
    ("diffusion", {("unet", "base_channels"): 1 << 24}, "unet.base_channels"),
    ("diffusion", {("unet", "channel_mult"): [1] * 1000}, "unet.channel_mult"),
    ("diffusion", {("unet", "image_size"): 512, ("unet", "attention_levels"): [0]}, "unet.image_size"),  # 262144 positions
    ("diffusion", {("schedule", "num_train_timesteps"): 10**12}, "schedule.num_train_timesteps"),
    ("diffusion", {("schedule", "warp"): 1}, "unknown settings"),
    ("diffusion", {("unet",): []}, "unet must be a JSON object"),
    ("vae", {("vae", "latent_dim"): 1 << 40}, "vae.latent_dim"),
    # each field within its bounds, their product (one layer's weights) not
    ("vae", {("vae", "image_size"): 512, ("vae", "hidden"): [64, 1024], ("vae", "fc_dim"): 4096}, "layer of"),
    ("vae", {("map",): None}, "map must be a JSON object"),
    ("gan", {("gan", "z_dim"): 10**9}, "gan.z_dim"),
    ("gan", {("latent_basis_names",): [1, 2]}, "latent_basis_names"),
    ("pixelcnn", {("pixelcnn", "channels"): 10**7}, "pixelcnn.channels"),
    ("pixelcnn", {("arch",): "lstm"}, "arch"),
    ("transformer", {("transformer", "vocab"): 17}, "transformer.vocab"),  # the VQ-VAE has 16 codes
    ("transformer", {("transformer", "dim"): 15}, "transformer.dim"),  # not a multiple of 2 heads
    ("video", {("video", "frames"): 100_000}, "video.frames"),
    ("video", {("video", "temporal_levels"): [5]}, "video.temporal_levels"),  # the U-Net has 2 levels
    ("video", {("video", "heads"): 3}, "video.heads"),
    ("video", {("video", "joint_levels"): [5]}, "video.joint_levels"),
    ("video", {("video", "joint_levels"): [0], ("video", "frames"): 64, ("unet", "image_size"): 32},
     "video.joint_levels"),  # 64 frames x 32x32 positions in one attention
    ("video", {("video", "conditioning_frames"): "yes"}, "video.conditioning_frames"),
    ("video", {("unet", "image_size"): 100_000}, "unet.image_size"),
    ("video", {("unet", "in_channels"): 4}, "unet.in_channels"),
    ("video", {("video",): None}, "video must be a JSON object"),
]


@pytest.mark.parametrize(("model", "changes", "message"), ABSURD)
def test_absurd_configs_are_refused_before_building(model, changes, message, tiny, tmp_path, monkeypatch):
    ck = tiny[model]
    config = json.loads(json.dumps(ck.config))
    for field, value in changes.items():
        section = config
        for key in field[:-1]:
            section = section[key]
        section[field[-1]] = value
    path = rewrite(ck, tmp_path / f"{model}.safetensors", config)

    def never(*args, **kwargs):
        raise AssertionError("a model was built from a config before it was checked")

    for module in (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Embedding):
        monkeypatch.setattr(module, "__init__", never)
    with pytest.raises(CheckpointError, match=message) as e:
        load_family(path)
    assert path.name in str(e.value) and "\n" not in str(e.value)


# --- whatever passes the check builds and runs ---------------------------------------------------------
def _leaves(config: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for k, v in config.items():
        out.append(prefix + (k,))
        if isinstance(v, dict):
            out += _leaves(v, prefix + (k,))
    return out


def _run(name: str, config: dict) -> None:
    """Build the model(s) of ``config`` and run each once on a batch of one."""
    if name in ("pixelcnn", "transformer"):
        name = config["arch"]  # what the autoregressive family builds
    with torch.no_grad():
        if name == "diffusion":
            from studio.core.families.diffusion.model import build

            model, _ = build(config)
            c = model.config
            x = torch.zeros(1, c.in_channels, c.image_size, c.image_size)
            model(x, torch.zeros(1, dtype=torch.long), torch.zeros(1, c.cond_dim) if c.cond_dim else None)
        elif name == "video":
            from studio.core.families.video.model import build as build_video

            model, _ = build_video(config)
            c = model.config
            x = torch.zeros(1, c.in_channels, model.video.frames, c.image_size, c.image_size)
            assert model(x, torch.zeros(1, dtype=torch.long), None).shape == x.shape
        elif name == "vae":
            from studio.core.families.vae.model import VAE, VAEConfig

            model = VAE(VAEConfig.from_dict(config.get("vae", {})))
            c = model.config
            cond = torch.zeros(1, c.cond_dim) if c.cond_dim else None
            mu, _ = model.encode(torch.zeros(1, c.channels, c.image_size, c.image_size), cond)
            assert model.decode(mu, cond).shape == (1, c.channels, c.image_size, c.image_size)
        elif name == "gan":
            from studio.core.families.gan.model import GAN, GANConfig

            model = GAN(GANConfig.from_dict(config.get("gan", {}))).eval()
            image = model.generator(torch.zeros(1, model.config.z_dim))
            model.discriminator(image)
        elif name == "pixelcnn":
            from studio.core.families.autoregressive.pixelcnn import GatedPixelCNN, PixelCNNConfig

            model = GatedPixelCNN(PixelCNNConfig.from_dict(config.get("pixelcnn", {})))
            c = model.config
            model(torch.zeros(1, 1, c.image_size, c.image_size, dtype=torch.long),
                  torch.zeros(1, c.cond_dim) if c.cond_dim else None)
        else:
            from studio.core.families.autoregressive.transformer import ImageTransformer, TransformerConfig
            from studio.core.families.autoregressive.vqvae import VQVAE, VQVAEConfig

            model = ImageTransformer(TransformerConfig.from_dict(config.get("transformer", {})))
            vq = VQVAE(VQVAEConfig.from_dict(config.get("vqvae", {})))
            c, v = model.config, vq.config
            codes = vq.encode(torch.zeros(1, v.channels, v.image_size, v.image_size))
            model(codes.flatten(1), torch.zeros(1, c.cond_dim) if c.cond_dim else None)
            vq.decode_logits(codes)


SMALL = st.integers(-1, 40) | st.lists(st.integers(-1, 5), max_size=4) | st.sampled_from(
    [None, True, 0.5, "cosine", "linear", "hinge", "nonsaturating", "pixelcnn", "transformer", "x", [], {}, [["a"]],
     ["a", "b"], {"class_names": ["a"], "source": "s"}, {"class_names": "a"}, 1e999, float("nan"), 2**70])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), name=st.sampled_from(sorted(MAKERS)))
def test_what_the_check_passes_builds_and_runs(data, name, tiny, tmp_path):
    """One field of a tiny model's config set to a random value (or two): either a CheckpointError, or
    the models build and run, and the family loads the file or says the weights do not match."""
    ck = tiny[name]
    config = json.loads(json.dumps(ck.config))
    for _ in range(data.draw(st.integers(1, 2))):
        field = data.draw(st.sampled_from(_leaves(config) or [("x",)]))
        section = config
        for key in field[:-1]:
            if not isinstance(section.get(key), dict):
                section[key] = {}
            section = section[key]
        section[field[-1]] = copy.deepcopy(data.draw(SMALL))
    try:
        check_family_config(ck.family, config, "m.safetensors")
    except CheckpointError as e:
        assert str(e).startswith("m.safetensors: ") and "\n" not in str(e)
        return
    _run(name, config)
    path = rewrite(ck, tmp_path / f"{name}.safetensors", config)
    try:
        load_family(path)
    except CheckpointError:
        pass  # the weights are for the original architecture
