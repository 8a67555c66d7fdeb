"""User images as model input: any file the user drops or names is either a correctly shaped array or
one clear StudioError; the work is bounded by the output size, and only raster formats are ever read
(an EPS file named .png never reaches Ghostscript)."""
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import EpsImagePlugin, Image

from studio.core import images
from studio.core.errors import StudioError
from studio.core.images import MAX_ASPECT, USER_FORMATS, load_for_model, open_user_image

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n0 0 moveto 8 8 lineto stroke\nshowpage\n%%EOF\n"
SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "BMP": ".bmp", "GIF": ".gif", "TIFF": ".tif"}


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims ``width`` x ``height`` grey pixels (one row of data: decoding it fails)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1)))
            + chunk(b"IEND", b""))


@pytest.fixture
def no_ghostscript(monkeypatch):
    """Fails the test if anything would start Ghostscript (as Pillow does to read EPS), even where the
    attempt's exception is caught and turned into a message."""
    calls = []

    def boom(*args, **kwargs):
        calls.append(args)
        raise AssertionError("Ghostscript was about to run on a user's file")

    monkeypatch.setattr(EpsImagePlugin, "gs_binary", "gs")  # as if gs were installed
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", boom)
    monkeypatch.setattr(EpsImagePlugin.subprocess, "check_call", boom)
    monkeypatch.setattr(EpsImagePlugin.subprocess, "Popen", boom)
    yield
    assert not calls, "Ghostscript was started on a user's file"


def test_a_long_thin_strip_is_refused_from_its_header(tmp_path):
    path = tmp_path / "strip.png"
    Image.new("L", (100_000, 1), 200).save(path)
    assert path.stat().st_size < 400  # 177 bytes that used to ask for 10-30 GB
    with pytest.raises(StudioError, match=r"strip\.png is 100000x1, too long and thin"):
        load_for_model(path, 28, 1)


def test_work_is_bounded_by_the_output_size(tmp_path, monkeypatch):
    """A wide picture (within the ratio) is scaled down first and padded after: no image larger than
    the input or the output is ever made (the old code made a 3000x3000 square first)."""
    path = tmp_path / "wide.png"
    a = np.full((60, 3000), 30, np.uint8)
    a[:, 1000:2000] = 220  # a bright middle third
    Image.fromarray(a).save(path)
    made: list[tuple[int, int]] = []
    new = Image.new

    def spy(mode, size, *args, **kwargs):
        made.append(tuple(size))
        return new(mode, size, *args, **kwargs)

    monkeypatch.setattr(Image, "new", spy)
    out, note = load_for_model(path, 28, 1)
    assert out.shape == (28, 28, 1) and out.dtype == np.uint8
    assert made and max(w * h for w, h in made) <= 28 * 28
    assert "padded to a square" in note and "resized from 3000x60 to 28x28" in note
    row = int(np.argmax(out[:, 14, 0]))  # the picture is one row high, across the middle
    assert 12 <= row <= 15 and out[row, 14, 0] > out[row, 2, 0] + 100 and np.ptp(out[:row - 1]) == 0


@pytest.mark.parametrize("side", [30_000, 10_000, 9_000])
def test_too_many_pixels_is_a_message_before_decoding(tmp_path, side):
    """30000^2 tripped Pillow's DecompressionBombError (uncaught); 9000^2 is under Pillow's limit but
    over ours; 10000^2 made Pillow print a warning first. Only a header is valid, so decoding would
    fail: the size message proves it came first."""
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_only(side, side))
    with pytest.raises(StudioError, match=r"huge\.png is too large"):
        load_for_model(path, 28, 1)


def test_eps_named_png_is_refused_without_ghostscript(tmp_path, no_ghostscript):
    path = tmp_path / "x.png"
    path.write_bytes(EPS)
    assert Image.open(path).format == "EPS"  # what Pillow would detect without an allow-list
    with pytest.raises(StudioError, match=r"x\.png is not an image this studio can read"):
        load_for_model(path, 28, 1)
    with pytest.raises(StudioError):
        open_user_image(path)


@pytest.mark.parametrize("fmt", USER_FORMATS)
def test_every_allowed_format_is_read(tmp_path, fmt):
    path = tmp_path / f"in{SUFFIXES[fmt]}"
    rgb = np.zeros((20, 16, 3), np.uint8)
    rgb[5:15, 4:12] = (250, 250, 250)
    Image.fromarray(rgb).save(path, format=fmt)
    for channels in (1, 3):
        out, _ = load_for_model(path, 12, channels)
        assert out.shape == (12, 12, channels) and out[6, 6].min() > 180 and out[0, 0].max() < 60


def test_missing_folder_and_tiny_files(tmp_path):
    with pytest.raises(StudioError, match="does not exist"):
        load_for_model(tmp_path / "gone.png", 12, 1)
    with pytest.raises(StudioError, match="is a folder"):
        load_for_model(tmp_path, 12, 1)
    Image.new("RGB", (1, 1), (255, 0, 0)).save(tmp_path / "dot.png")
    assert load_for_model(tmp_path / "dot.png", 12, 3)[0].shape == (12, 12, 3)
    Image.new("L", (MAX_ASPECT, 1)).save(tmp_path / "line.png")  # exactly the longest allowed ratio
    assert load_for_model(tmp_path / "line.png", 12, 1)[0].shape == (12, 12, 1)


def _valid_file(fmt: str, w: int, h: int, mode: str) -> bytes:
    buf = io.BytesIO()
    img = Image.new(mode, (w, h), "white" if mode != "P" else 3)
    if fmt == "JPEG" and mode in ("RGBA", "LA", "P"):
        img = img.convert("RGB")
    if fmt == "BMP" and mode == "LA":
        img = img.convert("L")
    img.save(buf, format=fmt)
    return buf.getvalue()


@st.composite
def user_files(draw) -> tuple[str, bytes]:
    """(suffix, content): random bytes, or a valid image of an allowed format with some bytes changed,
    cut short, or an EPS payload, under any allowed suffix."""
    suffix = draw(st.sampled_from(sorted(set(SUFFIXES.values()) | {".jpeg", ".tiff"})))
    kind = draw(st.sampled_from(["bytes", "mutated", "truncated", "eps"]))
    if kind == "bytes":
        return suffix, draw(st.binary(max_size=600))
    if kind == "eps":
        return suffix, EPS
    fmt = draw(st.sampled_from(USER_FORMATS))
    data = bytearray(_valid_file(fmt, draw(st.integers(1, 40)), draw(st.integers(1, 40)),
                                 draw(st.sampled_from(["L", "RGB", "RGBA", "LA", "P"]))))
    if kind == "truncated":
        return suffix, bytes(data[: draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    return suffix, bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=user_files(), size=st.sampled_from([12, 28]), channels=st.sampled_from([1, 3]))
def test_any_file_is_an_input_or_a_studio_error(tmp_path, no_ghostscript, case, size, channels):
    suffix, data = case
    path = tmp_path / f"drop{suffix}"
    path.write_bytes(data)
    try:
        out, note = load_for_model(path, size, channels)
    except StudioError as e:
        assert str(e).endswith((".", ")")) and "\n" not in str(e)
        return
    assert out.shape == (size, size, channels) and out.dtype == np.uint8 and isinstance(note, str)


def test_user_formats_exclude_anything_that_runs_programs():
    assert "EPS" not in images.USER_FORMATS and "PDF" not in images.USER_FORMATS
