import json

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core.errors import RequestError
from studio.core.request import GenerationRequest
from studio.store.pngmeta import read_settings, save_png

REQ = GenerationRequest(checkpoint="fmnist-small", checkpoint_hash="abc123", prompt="a red dress, side view",
                        negative_prompt="blurry", sampler="ddpm", steps=37, guidance=4.5, seed=123456,
                        batch_size=4, eta=0.25)


def _image(c=1):
    return np.arange(28 * 28 * c, dtype=np.uint8).reshape(28, 28, c)


@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_is_exact_and_pixels_survive(tmp_path, channels):
    img = _image(channels)
    p = save_png(tmp_path / "x.png", img, REQ, batch_index=2)
    assert read_settings(p) == (REQ, 2)
    with Image.open(p) as im:
        assert im.text["parameters"] == REQ.to_parameters()
        payload = json.loads(im.text["genstudio"])
        assert payload == {"request": REQ.to_dict(), "batch_index": 2, "version": 1}
        np.testing.assert_array_equal(np.asarray(im).reshape(img.shape), img)
    assert [f.name for f in tmp_path.iterdir()] == ["x.png"]  # no temp file left behind


def test_non_latin1_prompt_round_trips(tmp_path):
    req = REQ.with_(prompt="robe rouge — 赤いドレス ✨", negative_prompt="ぼやけ")
    p = save_png(tmp_path / "u.png", _image(), req)
    assert read_settings(p) == (req, 0)
    assert Image.open(p).text["parameters"].startswith("robe rouge — 赤いドレス ✨")


def test_parameters_only_fallback(tmp_path):
    info = PngInfo()
    info.add_text("parameters", REQ.to_parameters())
    p = tmp_path / "other_tool.png"
    Image.fromarray(_image()[..., 0]).save(p, pnginfo=info)
    assert read_settings(p) == (REQ, 0)


def test_damaged_genstudio_chunk_falls_back_to_parameters(tmp_path):
    info = PngInfo()
    info.add_text("parameters", REQ.to_parameters())
    info.add_text("genstudio", "{not json")
    p = tmp_path / "half.png"
    Image.fromarray(_image()[..., 0]).save(p, pnginfo=info)
    assert read_settings(p) == (REQ, 0)


def test_text_file_is_not_an_image(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(RequestError, match="notes.txt is not an image"):
        read_settings(p)


def test_png_without_settings(tmp_path):
    p = tmp_path / "plain.png"
    Image.fromarray(_image()[..., 0]).save(p)
    with pytest.raises(RequestError, match="plain.png carries no generation settings"):
        read_settings(p)


def test_jpeg_without_settings(tmp_path):
    p = tmp_path / "photo.jpg"
    Image.fromarray(_image(3)).save(p, format="JPEG")
    with pytest.raises(RequestError, match="photo.jpg carries no generation settings"):
        read_settings(p)


def test_truncated_and_missing_files_give_request_error(tmp_path):
    good = save_png(tmp_path / "good.png", _image(), REQ)
    bad = tmp_path / "bad.png"
    bad.write_bytes(good.read_bytes()[:60])
    with pytest.raises(RequestError, match="bad.png"):
        read_settings(bad)
    with pytest.raises(RequestError, match="does not exist"):
        read_settings(tmp_path / "missing.png")
    with pytest.raises(RequestError):
        read_settings(tmp_path)
