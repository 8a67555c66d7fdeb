"""The space-time U-Net: a warm start from an image U-Net draws every frame as that model does, the
temporal layers are what carries information across frames, and given frames reach the output."""
from __future__ import annotations

import pytest
import torch

from studio.core.denoising.unet import UNet, UNetConfig
from studio.core.families.video.model import (
    SpaceTimeAttention,
    TemporalLayer,
    VideoConfig,
    VideoUNet,
    given_frames,
    init_from_image,
)

pytestmark = pytest.mark.usefixtures("one_thread")

UNET = UNetConfig(in_channels=3, image_size=8, base_channels=8, channel_mult=(1, 2), attention_levels=(1,),
                  emb_dim=16, cond_dim=384, context_dim=384)


def _image_unet() -> UNet:
    torch.manual_seed(0)
    unet = UNet(UNET).eval()
    with torch.no_grad():  # a "trained" model: no zero-initialised outputs
        for p in unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return unet


def _cond(n: int) -> torch.Tensor:
    return torch.randn(n, 3, 385)


def test_a_warm_started_video_model_draws_each_frame_as_the_image_model_does():
    image = _image_unet()
    video = VideoUNet(UNET, VideoConfig(frames=4, temporal_levels=(1,), heads=2)).eval()
    assert init_from_image(video, image.state_dict()) == len(image.state_dict())
    x, t, cond = torch.randn(2, 3, 4, 8, 8), torch.tensor([10, 700]), _cond(2)
    with torch.no_grad():
        clip = video(x, t, cond)
        frames = image(x.transpose(1, 2).reshape(8, 3, 8, 8), t.repeat_interleave(4), cond.repeat_interleave(4, 0))
    assert torch.allclose(clip, frames.view(2, 4, 3, 8, 8).transpose(1, 2), atol=1e-5)


def test_frames_see_each_other_only_through_the_temporal_layers():
    torch.manual_seed(1)
    video = VideoUNet(UNET, VideoConfig(frames=4, temporal_levels=(1,), heads=2)).eval()
    with torch.no_grad():
        for name, p in video.named_parameters():
            p.add_(0.05 * torch.randn_like(p))
    x, t, cond = torch.randn(1, 3, 4, 8, 8), torch.tensor([300]), _cond(1)
    changed = x.clone()
    changed[:, :, 3] += 1.0  # only the last frame
    with torch.no_grad():
        a, b = video(x, t, cond), video(changed, t, cond)
        assert not torch.allclose(a[:, :, 0], b[:, :, 0]), "frame 0 reads frame 3 through the temporal layers"
        for layer in video.temporal.values():  # without them each frame is alone
            layer.forward = lambda h, frames: h
        a, b = video(x, t, cond), video(changed, t, cond)
    assert torch.allclose(a[:, :, :3], b[:, :, :3], atol=1e-6)


def test_a_temporal_layer_starts_as_the_identity_and_keeps_the_shape():
    layer = TemporalLayer(16, frames=5, attention=True, heads=4)
    h = torch.randn(10, 16, 3, 3)  # 2 clips x 5 frames
    assert torch.equal(layer(h, 5), h)


def test_space_time_attention_starts_as_the_identity_and_reaches_other_frames_other_positions():
    layer = SpaceTimeAttention(16, frames=4, size=3, heads=4)
    h = torch.randn(8, 16, 3, 3)  # 2 clips x 4 frames
    assert torch.equal(layer(h, 4), h)
    torch.manual_seed(3)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
        changed = h.clone()
        changed[3, :, 2, 2] += torch.randn(16)  # clip 0, last frame, one corner
        a, b = layer(h, 4), layer(changed, 4)
    assert not torch.allclose(a[0, :, 0, 0], b[0, :, 0, 0]), "frame 0's other corner reads it"
    assert torch.equal(a[4:], b[4:]), "the other clip does not"


def test_space_time_attention_is_added_at_its_levels_and_starts_as_the_identity():
    torch.manual_seed(4)
    plain = VideoUNet(UNET, VideoConfig(frames=4, temporal_levels=(1,), heads=2)).eval()
    joint = VideoUNet(UNET, VideoConfig(frames=4, temporal_levels=(1,), heads=2, joint_levels=(1,))).eval()
    assert sorted(joint.joint) == sorted(name for name, _, level in joint.block_names() if level == 1)
    missing, unexpected = joint.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("joint.") for k in missing)
    x, t, cond = torch.randn(1, 3, 4, 8, 8), torch.tensor([400]), _cond(1)
    with torch.no_grad():
        assert torch.allclose(plain(x, t, cond), joint(x, t, cond), atol=1e-6)


def test_given_frames_mark_the_first_frame_and_change_the_output():
    first = torch.rand(2, 3, 8, 8) * 2 - 1
    given = given_frames(first, (2, 3, 4, 8, 8))
    assert given.shape == (2, 4, 4, 8, 8)
    assert torch.equal(given[:, :3, 0], first) and given[:, 3, 0].eq(1).all()
    assert given[:, :, 1:].eq(0).all()
    assert given_frames(None, (2, 3, 4, 8, 8)) is None
    torch.manual_seed(2)
    video = VideoUNet(UNET, VideoConfig(frames=4, temporal_levels=(1,), heads=2)).eval()
    with torch.no_grad():
        for p in video.parameters():
            p.add_(0.05 * torch.randn_like(p))
        x, t = torch.randn(2, 3, 4, 8, 8), torch.tensor([5, 5])
        assert not torch.allclose(video(x, t, None, given), video(x, t, None, None))


def test_a_model_without_frame_inputs_refuses_given_frames():
    video = VideoUNet(UNET, VideoConfig(frames=4, temporal_levels=(1,), heads=2, conditioning_frames=False))
    with pytest.raises(ValueError, match="continue given frames"):
        video(torch.randn(1, 3, 4, 8, 8), torch.tensor([1]), None, given_frames(torch.zeros(1, 3, 8, 8),
                                                                                (1, 3, 4, 8, 8)))


def test_init_from_image_refuses_another_architecture():
    video = VideoUNet(UNET, VideoConfig(frames=4, temporal_levels=(1,), heads=2))
    other = UNet(UNetConfig(in_channels=3, image_size=8, base_channels=16, channel_mult=(1, 2),
                            attention_levels=(1,), emb_dim=16, cond_dim=384, context_dim=384))
    with pytest.raises(ValueError, match="does not fit"):
        init_from_image(video, other.state_dict())


def test_space_time_attention_fits_feature_maps_of_odd_sizes():
    odd = UNetConfig(in_channels=3, image_size=10, base_channels=8, channel_mult=(1, 2, 2), attention_levels=(2,),
                     emb_dim=16, cond_dim=384, context_dim=384)  # 10 -> 5 -> 3 positions a side
    video = VideoUNet(odd, VideoConfig(frames=3, temporal_levels=(1,), heads=2, joint_levels=(1, 2))).eval()
    with torch.no_grad():
        assert video(torch.randn(1, 3, 3, 10, 10), torch.tensor([5]), _cond(1)).shape == (1, 3, 3, 10, 10)
