"""Training the video model: the clip stream replays and resumes exactly, a warm start copies the
image model's weights, and the trainer ships a checkpoint the family loads."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.core import checkpoint
from studio.core.errors import CheckpointError
from studio.core.families import load_family
from studio.core.families.diffusion.model import build as build_image
from studio.core.families.diffusion.train import model_config as image_config
from studio.core.families.video.train import ClipBatches, clips_from_signed, clips_to_signed, video_task
from studio.core.training.trainer import TrainConfig, Trainer
from tests.core.training.exact import FakeEncoder, assert_resume_is_exact

pytestmark = pytest.mark.usefixtures("one_thread")


def _task(**kw):
    return video_task(FakeEncoder(), base_channels=8, batch_size=2, frames=3, **kw)


def test_clips_go_to_signed_and_back_exactly():
    from studio.core.data.moving_shapes import make_clips

    videos, _, _ = make_clips(2, seed=3)
    x = clips_to_signed(videos)
    assert x.shape == (2, 3, 16, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert np.array_equal(clips_from_signed(x), videos)


def test_the_clip_stream_zeroes_captions_and_gives_first_frames_as_asked():
    batches = ClipBatches(FakeEncoder(), 32, seed=0, p_uncond=0.25, p_first=0.5, device="cpu")
    x, cond, given = next(batches)
    assert x.shape == (32, 3, 16, 32, 32) and cond.shape[0] == 32 and given.shape == (32, 4, 16, 32, 32)
    dropped = (cond.flatten(1) == 0).all(1)
    with_first = given[:, 3, 0].flatten(1).eq(1).all(1)
    assert 0 < dropped.sum() < 32 and 0 < with_first.sum() < 32
    assert torch.equal(given[with_first, :3, 0], x[with_first, :, 0]), "the given frame is the clip's own"
    assert given[:, :, 1:].eq(0).all() and given[~with_first].eq(0).all()


def test_training_resumes_exactly(tmp_path):
    assert_resume_is_exact(lambda: _task(p_uncond=0.5, p_first=0.5), tmp_path, steps=4, cut_at=2)


def _image_checkpoint(path, base_channels: int = 8):
    torch.manual_seed(0)
    config = image_config(dataset="shapes", in_channels=3, image_size=32, base_channels=base_channels, tokens=True)
    model, _ = build_image(config)
    return checkpoint.save(path, family="diffusion", config=config,
                           tensors={f"ema.{k}": v for k, v in model.state_dict().items()})


def test_a_warm_start_copies_the_image_model_and_training_ships_a_loadable_model(tmp_path):
    image = _image_checkpoint(tmp_path / "image.safetensors")
    task = _task(init=str(image))
    start = task.card["recipe"]["warm_start"]
    assert start["checkpoint"] == "image" and start["tensors"] == len(checkpoint.load(image).group("ema"))
    out = tmp_path / "video.safetensors"
    for _ in Trainer(task, TrainConfig(steps=2, batch_size=2, warmup=1, sample_every=2, checkpoint_every=10),
                     out).run():
        pass
    family = load_family(out)
    assert family.can("video") and family.image_format.frames == 3
    clip = family.generate(family.default_request().with_(prompt="a red circle moves up", steps=2))
    assert clip.shape == (1, 32, 96, 3)


def test_a_warm_start_from_another_u_net_is_refused(tmp_path):
    image = _image_checkpoint(tmp_path / "wide.safetensors", base_channels=16)
    with pytest.raises(CheckpointError, match="not a U-Net of this shape"):
        _task(init=str(image))


def test_a_second_stage_goes_on_from_a_video_model_and_may_add_space_time_attention(tmp_path):
    first = _task()
    out = tmp_path / "stage1.safetensors"
    for _ in Trainer(first, TrainConfig(steps=1, batch_size=2, warmup=1, sample_every=5, checkpoint_every=10),
                     out).run():
        pass
    shipped = checkpoint.load(out).group("ema")
    same = _task(init=str(out))
    assert all(torch.equal(same.model.state_dict()[k], v) for k, v in shipped.items())
    wider = _task(init=str(out), joint_levels=(1,))
    state = wider.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in shipped.items()), "every trained weight goes on"
    added = [k for k in state if k.startswith("joint.") and k.endswith(".out.weight")]
    assert added and all(state[k].eq(0).all() for k in added), "the new attention starts as the identity"
    assert "space-time attention at levels [1]" in wider.card["recipe"]["warm_start"]["added"]
    assert "space-time attention at levels 1" in wider.card["recipe"]["arch"]
    out2 = tmp_path / "stage2.safetensors"
    for _ in Trainer(wider, TrainConfig(steps=1, batch_size=2, warmup=1, sample_every=5, checkpoint_every=10),
                     out2).run():
        pass
    assert _task(init=str(out2), joint_levels=(1,)).model.joint, "a third stage goes on with it"
    with pytest.raises(CheckpointError, match="--joint-levels 1"):
        _task(init=str(out2))
    with pytest.raises(CheckpointError, match="another shape"):
        video_task(FakeEncoder(), base_channels=16, batch_size=2, frames=3, init=str(out))
