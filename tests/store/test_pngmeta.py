import json

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core.errors import RequestError
from studio.core.request import DEFAULT_STEPS, GenerationRequest
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


# --- hardening (issue 11, items 5, 6, 18) -------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.core.test_request import fails_fast  # noqa: E402


def _png_with(path, **texts):
    info = PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    Image.fromarray(_image()[..., 0]).save(path, pnginfo=info)
    return path


def test_infinity_and_huge_numbers_are_request_errors(tmp_path):
    """1e999 / Infinity in an integer field, or a huge integer in a latent, raised OverflowError."""
    for n, request_json in enumerate(['{"steps": 1e999}', '{"seed": Infinity}', '{"batch_size": -Infinity}',
                                      '{"latent": [' + "9" * 400 + ']}', '{"steps": NaN}']):
        p = _png_with(tmp_path / f"{n}.png", genstudio='{"version": 1, "request": ' + request_json + '}')
        with pytest.raises(RequestError, match=f"{n}.png carries damaged generation settings"):
            read_settings(p)
    p = _png_with(tmp_path / "p.png", parameters="a\nSteps: 1e999, Seed: 1")
    with pytest.raises(RequestError, match="p.png carries damaged generation settings: .*steps.*1e999"):
        read_settings(p)


def test_a_2mb_parameters_chunk_is_refused_at_once(tmp_path):
    """It was still parsing after 90 s."""
    p = _png_with(tmp_path / "big.png", parameters="Steps: 20, " + "a" * 2_000_000)
    deep = _png_with(tmp_path / "deep.png", genstudio="[" * 100_000)
    with fails_fast():  # a guard, not a measurement: a hang fails instead of stopping the suite
        with pytest.raises(RequestError, match="big.png carries damaged generation settings.*too long"):
            read_settings(p)
        with pytest.raises(RequestError, match="deep.png"):
            read_settings(deep)


def test_gan_png_stores_only_what_the_family_used(tiny_gan, tmp_path):
    """A Faces GAN image was captioned with the disabled prompt box's text, and its parameters listed
    Steps, Sampler and CFG scale but not the truncation."""
    from studio.store.registry import load_model

    model = load_model("tiny-gan")
    asked = GenerationRequest(family="gan", prompt="an ankle boot", negative_prompt="blurry", sampler="ddim",
                              steps=20, guidance=7.0, eta=0.5, temperature=0.2, truncation=0.7, seed=5)
    req = model.resolve(asked)
    assert (req.prompt, req.negative_prompt, req.sampler) == ("", "", "")
    assert (req.steps, req.guidance, req.eta, req.temperature) == (DEFAULT_STEPS, 3.0, 0.0, 1.0)  # the neutral defaults
    assert req.truncation == 0.7 and req.seed == 5
    image = model.generate(req)[0]
    p = save_png(tmp_path / "gan.png", image, req)
    with Image.open(p) as im:
        text = im.text["parameters"]
    for absent in ("ankle", "blurry", "Steps", "Sampler", "CFG scale", "Eta", "Temperature"):
        assert absent not in text, absent
    assert "Truncation: 0.7" in text and "Seed: 5" in text
    assert read_settings(p) == (req, 0)
    assert GenerationRequest.from_parameters(text) == req
    assert np.array_equal(model.generate(GenerationRequest.from_parameters(text))[0], image)


def test_unconditional_vae_stores_no_prompt(tiny_vae):
    from studio.store.registry import load_model

    model = load_model("tiny-vae")  # cond_dim 0: it reads no prompt
    req = model.resolve(GenerationRequest(family="vae", prompt="an ankle boot", steps=20, truncation=0.3))
    assert (req.prompt, req.steps, req.truncation, req.sampler) == ("", DEFAULT_STEPS, 1.0, "")
    assert "Truncation" not in req.to_parameters() and "Steps" not in req.to_parameters()


_chunk_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(["Steps: ", "Seed: ", ", ", "\n", "Size: 9x", "Latent: ", "1e999", "Infinity",
                              "Family: gan", "Negative prompt: ", "nan", "9" * 25, "::", "|"]), max_size=12)
    .map("".join),
)
_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
                         st.sampled_from([10**400, float("inf"), float("-inf"), float("nan"), "\ud800", "../x",
                                          "a\x00", "1e999", 3, 0.5]))
_request_json = st.dictionaries(st.sampled_from(list(GenerationRequest().to_dict()) + ["x"]),
                                st.one_of(_json_scalar, st.lists(_json_scalar, max_size=3)), max_size=6)
_genstudio_text = st.one_of(
    _chunk_text,
    st.fixed_dictionaries({"request": _request_json},
                          optional={"version": _json_scalar, "batch_index": _json_scalar}).map(json.dumps),
    _request_json.map(lambda r: json.dumps({"version": 1, "request": r})),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parameters=st.none() | _chunk_text, genstudio=st.none() | _genstudio_text)
def test_any_settings_chunks_give_settings_or_a_request_error(tmp_path, parameters, genstudio):
    texts = {k: v for k, v in (("parameters", parameters), ("genstudio", genstudio)) if v is not None}
    p = _png_with(tmp_path / "fuzz.png", **texts)
    try:
        req, index = read_settings(p)
    except RequestError as e:
        assert str(e).startswith("fuzz.png ") and str(e).endswith(".")
        return
    assert isinstance(index, int) and index >= 0
    assert GenerationRequest.from_dict(json.loads(req.to_json())) == req  # the gallery can store it
