import json
import struct

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from studio.core.catalog import CATALOG
from studio.core.data.moving_shapes import make_clips
from studio.core.errors import RequestError, StudioError
from studio.core.request import GenerationRequest
from studio.store.video_files import (
    MAX_FRAMES,
    VIDEO_SUFFIXES,
    VideoFile,
    read_video,
    read_video_settings,
    write_gif,
    write_mp4,
    write_video,
)

VIDEOS, _, CAPTIONS = make_clips(1)
CLIP = VIDEOS[0]  # (16, 32, 32, 3) uint8, a few flat colours
REQ = GenerationRequest(family="video", checkpoint="moving-shapes", checkpoint_hash="abc123",
                        prompt=CAPTIONS[0] + " — 赤い ✨", seed=77, batch_size=3, width=32, height=32)


def test_the_request_is_one_that_makes_clips():
    assert CATALOG[REQ.family].can("video")


def test_gif_round_trip_is_exact(tmp_path):
    p = write_gif(tmp_path / "clip.gif", CLIP, fps=8, request=REQ, batch_index=2)
    got = read_video(p)
    assert isinstance(got, VideoFile)
    assert got.frames.dtype == np.uint8 and got.frames.shape == CLIP.shape
    np.testing.assert_array_equal(got.frames, CLIP)
    assert (got.fps, got.request, got.batch_index) == (8.0, REQ, 2)
    assert read_video_settings(p) == (REQ, 2)
    with Image.open(p) as im:  # enlarged 4x for people, loops forever, the JSON in the comment
        assert im.size == (128, 128) and im.info["loop"] == 0
        payload = json.loads(im.info["comment"])
    assert payload["request"] == REQ.to_dict() and payload["scale"] == 4 and payload["fps"] == 8.0
    assert [f.name for f in tmp_path.iterdir()] == ["clip.gif"]  # no temp file left behind


def test_mp4_round_trip_is_close(tmp_path):
    p = write_mp4(tmp_path / "clip.mp4", CLIP, fps=12.5, request=REQ, batch_index=1)
    got = read_video(p)
    assert got.frames.dtype == np.uint8 and got.frames.shape == CLIP.shape
    assert np.abs(got.frames.astype(int) - CLIP).mean() < 3  # lossy, but block means undo most of it
    assert (got.fps, got.request, got.batch_index) == (12.5, REQ, 1)
    assert read_video_settings(p) == (REQ, 1)
    with av.open(str(p)) as container:  # H.264 in yuv420p, 8x: what any player shows
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (stream.width, stream.height, stream.frames) == (256, 256, 16)
        assert json.loads(container.metadata["comment"])["request"] == REQ.to_dict()
    assert [f.name for f in tmp_path.iterdir()] == ["clip.mp4"]


def test_identical_frames_in_a_gif_are_kept(tmp_path):
    """Pillow writes a frame equal to the one before as a longer delay; the reader splits it again."""
    held = np.repeat(CLIP[:4], [1, 3, 1, 2], axis=0)
    p = write_gif(tmp_path / "held.gif", held, fps=6)
    with Image.open(p) as im:
        assert im.n_frames == 4
    got = read_video(p)
    np.testing.assert_array_equal(got.frames, held)
    assert got.fps == 6.0


@pytest.mark.parametrize("suffix", VIDEO_SUFFIXES)
def test_grey_clips_are_written_as_rgb(tmp_path, suffix):
    grey = np.random.default_rng(0).integers(0, 256, (3, 6, 10, 1), dtype=np.uint8) // 64 * 64  # 4 levels
    got = read_video(write_video(tmp_path / f"grey{suffix}", grey, scale=2))
    assert got.frames.shape == (3, 6, 10, 3)
    assert np.abs(got.frames.astype(int) - np.repeat(grey, 3, axis=-1)).mean() < 8
    if suffix == ".gif":
        np.testing.assert_array_equal(got.frames, np.repeat(grey, 3, axis=-1))


def test_odd_sides_are_made_even_for_mp4(tmp_path):
    odd = np.full((2, 7, 5, 3), 200, dtype=np.uint8)
    p = write_mp4(tmp_path / "odd.mp4", odd, scale=3)  # 21x15 cannot be yuv420p: 2x instead
    with av.open(str(p)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (10, 14)
    assert read_video(p).frames.shape == (2, 7, 5, 3)


@pytest.mark.parametrize("suffix", VIDEO_SUFFIXES)
def test_a_file_without_settings(tmp_path, suffix):
    p = write_video(tmp_path / f"plain{suffix}", CLIP[:3])
    got = read_video(p)
    assert got.request is None and got.batch_index == 0
    assert got.frames.shape == (3, 32, 32, 3)  # still scaled back down: the file says how
    with pytest.raises(RequestError, match=f"plain{suffix} carries no generation settings"):
        read_video_settings(p)


def test_other_programs_files_play_at_their_own_size(tmp_path):
    p = tmp_path / "other.gif"
    pics = [Image.fromarray(f) for f in CLIP[:5]]
    pics[0].save(p, save_all=True, append_images=pics[1:], duration=100, loop=0, comment=b"made elsewhere")
    got = read_video(p)
    assert got.frames.shape == (5, 32, 32, 3) and got.request is None and got.fps == 10.0
    with pytest.raises(RequestError, match="other.gif carries no generation settings"):
        read_video_settings(p)


def test_damaged_settings_leave_the_frames_playable(tmp_path):
    p = tmp_path / "bad.gif"
    pics = [Image.fromarray(f) for f in CLIP[:2]]
    comment = json.dumps({"version": 1, "request": {"steps": "many"}, "scale": 1}).encode()
    pics[0].save(p, save_all=True, append_images=pics[1:], comment=comment)
    assert read_video(p).request is None
    with pytest.raises(RequestError, match="bad.gif carries damaged generation settings.*steps"):
        read_video_settings(p)


def test_write_video_goes_by_suffix(tmp_path):
    assert read_video(write_video(tmp_path / "a.GIF", CLIP[:2])).frames.shape == (2, 32, 32, 3)
    with pytest.raises(StudioError, match=r"a.avi is not a video file name.*\.gif or \.mp4"):
        write_video(tmp_path / "a.avi", CLIP)


@pytest.mark.parametrize("writer", [write_gif, write_mp4])
@pytest.mark.parametrize("frames, kw", [
    (CLIP.astype(np.float32), {}),  # wrong dtype
    (CLIP[0], {}),  # one image, not a clip
    (CLIP[:, :, :, :2], {}),  # two channels
    (CLIP[:0], {}),  # no frames
    (CLIP, {"fps": 0}),
    (CLIP, {"fps": float("nan")}),
    (CLIP, {"scale": 0}),
    (CLIP, {"batch_index": -1}),
])
def test_bad_arguments_write_nothing(tmp_path, writer, frames, kw):
    with pytest.raises(ValueError):
        writer(tmp_path / "x", frames, **kw)
    assert list(tmp_path.iterdir()) == []


def test_a_writer_failing_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    import studio.store.video_files as vf

    target = tmp_path / "clip.mp4"
    target.write_bytes(b"the clip saved before")

    def broken(frame, scale):
        raise RuntimeError("disk full")

    monkeypatch.setattr(vf, "_enlarge", broken)
    with pytest.raises(RuntimeError):
        write_mp4(target, CLIP, request=REQ)
    assert target.read_bytes() == b"the clip saved before"  # the old file, whole
    assert [f.name for f in tmp_path.iterdir()] == ["clip.mp4"]


# --- hostile files: a StudioError naming the file, never a crash -----------------------------------

def _png(path):
    Image.fromarray(CLIP[0]).save(path, format="PNG")


def _audio_only(path):
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _huge_gif(path):  # 5000x5000 pixels in 40 bytes
    screen = struct.pack("<HH", 5000, 5000) + b"\x80\x00\x00" + bytes(6)  # and a 2-colour palette
    image = b"," + struct.pack("<HHHH", 0, 0, 5000, 5000) + b"\x00" + b"\x02\x02\x4c\x01\x00"
    path.write_bytes(b"GIF89a" + screen + image + b";")


def _growing_gif(path):  # two 8x8 frames, the second's descriptor patched to 5000x5000
    import io

    buf = io.BytesIO()
    first, second = (Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 255))
    first.save(buf, format="GIF", save_all=True, append_images=[second])
    data, descriptor = buf.getvalue(), b"," + struct.pack("<HHHH", 0, 0, 8, 8)
    at = data.index(descriptor, data.index(descriptor) + 1)
    path.write_bytes(data[:at] + b"," + struct.pack("<HHHH", 0, 0, 5000, 5000) + data[at + 9:])


@pytest.mark.parametrize("name, make, message", [
    ("noise.mp4", lambda p: p.write_bytes(np.random.default_rng(1).bytes(4000)), "is not a GIF or MP4"),
    ("picture.gif", _png, "is not a GIF or MP4"),
    ("empty.mp4", lambda p: p.write_bytes(b""), "is empty"),
    ("folder.gif", lambda p: p.mkdir(), "is a folder"),
    ("missing.mp4", lambda p: None, "does not exist"),
    ("fake.mp4", lambda p: p.write_bytes(b"\0\0\0\x18ftypisom" + bytes(100)), "may be damaged"),
    ("sound.mp4", _audio_only, "has no video stream"),
    ("huge.gif", _huge_gif, "too large"),
    ("growing.gif", _growing_gif, "too large"),
])
def test_hostile_files(tmp_path, name, make, message):
    p = tmp_path / name
    make(p)
    with pytest.raises(StudioError, match=f"{name}.*{message}"):
        read_video(p)
    with pytest.raises(RequestError, match=name):
        read_video_settings(p)


@pytest.mark.parametrize("suffix", VIDEO_SUFFIXES)
def test_truncated_files(tmp_path, suffix):
    data = write_video(tmp_path / f"whole{suffix}", CLIP, request=REQ).read_bytes()
    p = tmp_path / f"cut{suffix}"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(StudioError, match=f"cut{suffix}"):
        read_video(p)


def test_too_many_frames_are_refused_from_the_header(tmp_path):
    with pytest.raises(ValueError):  # never written...
        write_gif(tmp_path / "long.gif", np.zeros((MAX_FRAMES + 1, 2, 2, 3), np.uint8))
    p = tmp_path / "long.gif"  # ...nor read
    pics = [Image.fromarray(np.full((2, 2), i % 2 * 255, np.uint8)) for i in range(MAX_FRAMES + 1)]
    pics[0].save(p, save_all=True, append_images=pics[1:], duration=20)
    with pytest.raises(StudioError, match=f"long.gif is too long \\({MAX_FRAMES + 1} frames"):
        read_video(p)


_GOOD: dict[str, bytes] = {}


def _good(suffix, tmp_path_factory):
    if suffix not in _GOOD:
        p = tmp_path_factory.mktemp("good") / f"g{suffix}"
        _GOOD[suffix] = write_video(p, CLIP[:4], request=REQ).read_bytes()
    return _GOOD[suffix]


@settings(max_examples=25, deadline=None)
@given(suffix=st.sampled_from(VIDEO_SUFFIXES), cut=st.integers(0, 10**6),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       junk=st.binary(max_size=64))
def test_damaged_files_never_crash(tmp_path_factory, suffix, cut, flips, junk):
    data = bytearray(_good(suffix, tmp_path_factory))
    for at, value in flips:
        data[at % len(data)] = value
    data = bytes(data[: max(12, cut % (len(data) + 1))]) + junk
    p = tmp_path_factory.mktemp("bad") / f"x{suffix}"
    p.write_bytes(data)
    try:
        got = read_video(p)
    except StudioError as e:
        assert p.name in str(e)
    else:
        assert got.frames.dtype == np.uint8 and got.frames.ndim == 4 and got.frames.shape[-1] == 3
    try:
        read_video_settings(p)
    except RequestError as e:
        assert p.name in str(e)
