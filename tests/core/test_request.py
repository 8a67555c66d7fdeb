"""GenerationRequest: validation and the 'parameters' text other tools read."""
import pytest

from studio.core.errors import RequestError
from studio.core.prompt.blend import parse_blend
from studio.core.request import DEFAULT_STEPS, GenerationRequest


def test_parameters_round_trip():
    req = GenerationRequest(prompt="a sneaker, side view", negative_prompt="a boot", sampler="ddpm", steps=123,
                            guidance=4.5, seed=42, batch_size=3, checkpoint="m", checkpoint_hash="abc123",
                            eta=0.5, width=28, height=28)
    assert GenerationRequest.from_parameters(req.to_parameters()) == req
    assert GenerationRequest.from_dict(req.to_dict()) == req


def test_multiline_prompt_survives():
    req = GenerationRequest(prompt="line one\nline two")
    assert GenerationRequest.from_parameters(req.to_parameters()).prompt == "line one\nline two"


def test_foreign_parameters_are_read_leniently():
    text = "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: DDIM, CFG scale: 7, Seed: 5, Size: 512x512"
    req = GenerationRequest.from_parameters(text)
    assert (req.prompt, req.negative_prompt, req.steps, req.sampler, req.seed) == ("a cat", "blurry", 20, "ddim", 5)


@pytest.mark.parametrize("change", [dict(steps=0), dict(steps=1001), dict(batch_size=17), dict(seed=-1),
                                    dict(guidance=-1.0), dict(eta=2.0)])
def test_out_of_range_values_are_refused(change):
    with pytest.raises(RequestError):
        GenerationRequest(**change).validated()


def test_garbage_is_refused_with_a_message():
    with pytest.raises(RequestError, match="no generation settings"):
        GenerationRequest.from_parameters("just some text")
    with pytest.raises(RequestError, match="steps"):
        GenerationRequest.from_dict({"steps": "many"})


# --- hardening: what a request may hold (issue 11, items 5, 6, 7, 18) --------------------------------
import json  # noqa: E402
import math  # noqa: E402
import signal  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from studio.core.catalog import CATALOG  # noqa: E402
from studio.core.request import (  # noqa: E402
    MAX_LATENT_DIM,
    MAX_PARAMETERS,
    MAX_PROMPT,
    MAX_REDRAWS,
    MAX_SEED,
)


@contextmanager
def fails_fast(seconds: int = 20):
    """A guard, not a measurement: a quadratic parse would hang the suite; this makes it fail instead."""
    def stop(*_):
        raise AssertionError(f"still running after {seconds} s: parsing is not linear")
    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("change,message", [
    (dict(family="stylegan"), "Unknown model family 'stylegan'"),
    (dict(sampler="lms"), "or ddim or ddpm or dpm"),
    (dict(family="autoregressive", sampler="ddim"), "samples with cached or naive"),
    (dict(family="gan", sampler="warp"), "Unknown sampler 'warp'"),
    (dict(checkpoint="../../etc/passwd"), "is not a checkpoint id"),
    (dict(checkpoint="sub/model"), "is not a checkpoint id"),
    (dict(checkpoint="sub\\model"), "is not a checkpoint id"),
    (dict(checkpoint="/abs/model"), "is not a checkpoint id"),
    (dict(checkpoint="C:model"), "is not a checkpoint id"),
    (dict(checkpoint=".."), "is not a checkpoint id"),
    (dict(checkpoint="a\x00b"), "is not a checkpoint id"),
    (dict(checkpoint=" model "), "is not a checkpoint id"),
    (dict(prompt="a boot\x00"), "prompt contains a control character"),
    (dict(negative_prompt="\x1b[31mred"), "negative prompt contains a control character"),
    (dict(prompt="a boot \ud800"), "prompt contains an invalid character"),
    (dict(prompt="x" * (MAX_PROMPT + 1)), "prompt is too long"),
    (dict(width=0), "Width and height"),
    (dict(height=0), "Width and height"),
    (dict(width=100_000), "Width and height"),
    (dict(guidance=float("nan")), "Guidance"),
])
def test_validation_refuses_what_no_widget_makes(change, message):
    with pytest.raises(RequestError, match=message.replace("(", r"\(").replace("[", r"\[")):
        GenerationRequest(**change).validated()


def test_validation_accepts_what_the_window_sends():
    # The window sends its sampler box's last text to families that have none: ignored, not refused.
    assert GenerationRequest(family="gan", sampler="ddim").validated()
    assert GenerationRequest(family="gan", sampler="").validated()
    assert GenerationRequest(checkpoint="my model (v2)_final.best", prompt="line\nline\ttab").validated()
    assert GenerationRequest(prompt="赤いドレス ✨" * 100).validated()
    # A GAN reads no prompt: a blend left in the disabled box is dropped, not refused; unstorable text is.
    assert GenerationRequest(family="gan", prompt="a boot | ").validated()
    with pytest.raises(RequestError, match="Every part"):
        GenerationRequest(family="vae", prompt="a boot | ").validated()
    with pytest.raises(RequestError, match="invalid character"):
        GenerationRequest(family="gan", prompt="\udcff").validated()


@pytest.mark.parametrize("field,value", [
    ("steps", "1e999"), ("steps", math.inf), ("seed", -math.inf), ("steps", math.nan), ("steps", 2.5),
    ("batch_size", 10**400), ("guidance", math.inf), ("guidance", "nan"), ("truncation", 10**400),
    ("latent", [10**400]), ("latent", [1.0, math.inf]), ("latent", "0.5 0.5"), ("redraws", [[1, math.inf]]),
    ("redraws", ["12"]), ("steps", True), ("prompt", 5), ("prompt", None), ("prompt", "\ud800"),
    ("top_k", "9" * 5000), ("seed", "1" * 41),
])
def test_from_dict_refuses_non_finite_oversized_and_mistyped_values(field, value):
    with pytest.raises(RequestError, match=f"Setting '{field}' has an invalid value"):
        GenerationRequest.from_dict({field: value})


def test_from_json_with_infinity_is_a_request_error():
    for text in ('{"steps": 1e999}', '{"steps": Infinity}', '{"seed": -Infinity}', '{"latent": [1e999]}',
                 '{"latent": [' + "9" * 400 + ']}', '{"prompt": "\\ud800"}'):
        with pytest.raises(RequestError):
            GenerationRequest.from_dict(json.loads(text))
    assert GenerationRequest.from_dict(json.loads('{"steps": 20.0, "guidance": 7}')).steps == 20


def test_a_huge_blend_weight_is_refused_at_once():
    """A 20,000-digit weight took a minute in validation (a backtracking regex)."""
    with fails_fast():
        with pytest.raises(RequestError, match="short number"):
            parse_blend("a boot::" + "1" * 20_000)
        assert parse_blend("a boot::" + "1" * 20_000 + "x")[0][1] == 1.0  # not a weight: words
        with pytest.raises(RequestError, match="too long"):
            GenerationRequest(prompt="a boot::" + "1" * 20_000 + "x").validated()
        assert parse_blend("a::" * 1000 + "1") == [("a::" * 999 + "a", 1.0)]
    assert parse_blend("a sneaker::0.7 | a sandal :: 3e-1") == [("a sneaker", 0.7), ("a sandal", 0.3)]
    assert parse_blend("a::b::0.5") == [("a::b", 0.5)]
    assert parse_blend("a ::") == [("a ::", 1.0)]


def test_a_huge_parameters_text_is_refused_at_once():
    """A 2 MB 'parameters' chunk was still parsing after 90 s."""
    with fails_fast():
        for text in ("Steps: 1, " + "a" * 2_000_000, "a" * 2_000_000 + "\nSteps: 1"):
            with pytest.raises(RequestError, match="too long"):
                GenerationRequest.from_parameters(text)
        # Just under the bound, a line that made the old key-value regex backtrack: read in one pass.
        assert GenerationRequest.from_parameters("x\nSteps: 7, " + "ab " * 21_000).steps == 7


def test_the_longest_request_we_write_is_read_back():
    """The bound on what is read leaves room for everything a valid request can hold."""
    req = GenerationRequest(
        family="autoregressive", sampler="cached", prompt="€" * MAX_PROMPT, negative_prompt="n" * MAX_PROMPT,
        checkpoint="c" * 200, checkpoint_hash="f" * 64, seed=MAX_SEED, width=4096, height=4096,
        redraws=tuple((4096 * 4096 - MAX_REDRAWS + i, MAX_SEED) for i in range(MAX_REDRAWS)),
        temperature=0.1 + 0.2, top_p=1 / 3, top_k=4096)
    assert len(req.to_parameters()) <= MAX_PARAMETERS
    assert GenerationRequest.from_parameters(req.to_parameters()) == req.normalized()
    latent = GenerationRequest(family="vae", latent=tuple(-1 / 3 - k * 1e-12 for k in range(MAX_LATENT_DIM)),
                               prompt="p" * MAX_PROMPT, sampler="")
    assert len(latent.to_parameters()) <= MAX_PARAMETERS
    assert GenerationRequest.from_parameters(latent.to_parameters()) == latent


def test_parameters_list_only_what_the_family_uses():
    """A Faces GAN image was captioned with the disabled prompt box's text and its parameters listed
    Steps, Sampler and CFG scale but not its truncation."""
    gan = GenerationRequest(family="gan", prompt="an ankle boot", negative_prompt="blurry", steps=20,
                            sampler="ddim", guidance=7.0, eta=0.5, truncation=0.7, temperature=0.5, seed=4)
    text = gan.to_parameters()
    for absent in ("ankle boot", "blurry", "Steps", "Sampler", "CFG scale", "Eta", "Temperature", "Top k"):
        assert absent not in text, absent
    assert "Truncation: 0.7" in text and "Seed: 4" in text and "Family: gan" in text
    back = GenerationRequest.from_parameters(text)
    assert back == gan.normalized()
    assert (back.prompt, back.sampler, back.steps, back.guidance, back.truncation) == ("", "", DEFAULT_STEPS, 3.0, 0.7)
    assert "Truncation: 1" in gan.with_(truncation=1.0).to_parameters()

    vae = GenerationRequest(family="vae", prompt="a dress", steps=20, guidance=9.0, truncation=0.5, sampler="ddim")
    text = vae.to_parameters()
    assert text.startswith("a dress\n") and "Truncation" not in text and "Steps" not in text
    assert vae.normalized().truncation == 1.0 and vae.normalized(conditional=False).prompt == ""

    diffusion = GenerationRequest(prompt="a", guidance=4.123456789, eta=0.1 + 0.2, truncation=0.5, top_k=5)
    text = diffusion.to_parameters()
    assert "Truncation" not in text and "Top k" not in text and "Eta: 0.30000000000000004" in text
    assert GenerationRequest.from_parameters(text) == diffusion.normalized()
    assert diffusion.normalized().guidance == 4.123456789 and diffusion.normalized().top_k == 0


# --- property tests --------------------------------------------------------------------------------
FIELDS = list(GenerationRequest().to_dict())
HOSTILE_TEXT = ["", "ddim", "gan", "vae", "diffusion", "autoregressive", "../x", "a/b", "a\x00b", "\ud800",
                "a::1e999", "a::0 | b::0", "|", "x" * 5000, "Infinity", "1e999", "-1", "0123456789abcdef"]
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**400, -(10**400), 2**32 - 1, 2**32, 0, 1, 16, 17, 1000, 1001]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(HOSTILE_TEXT),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=20),
)
_values = st.one_of(_scalars, st.lists(_scalars, max_size=4), st.lists(st.lists(_scalars, max_size=3), max_size=3),
                    st.dictionaries(st.text(max_size=3), _scalars, max_size=2))
_request_dicts = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=4)), _values, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_request_dicts)
def test_any_dict_is_a_request_or_a_request_error(d):
    try:
        req = GenerationRequest.from_dict(d)
    except RequestError as e:
        assert str(e).endswith(".")
        return
    again = GenerationRequest.from_dict(json.loads(req.to_json()))  # what the gallery and the queue store
    assert again == req
    try:
        req.validated()
    except RequestError:
        return
    req.to_json().encode("utf-8")  # a valid request can always be stored
    assert GenerationRequest.from_parameters(req.to_parameters()) == req.normalized()


_fragments = st.one_of(
    st.sampled_from(["Steps: ", "Seed: ", "Sampler: ", ", ", "\n", "Negative prompt: ", "Size: ", "x", "@",
                     "Latent: ", "Redraws: ", "Family: gan", "Family: ", "CFG scale: ", "Truncation: ", "Top k: ",
                     "Model: ", "1e999", "nan", "-1", "9" * 30, "0.5", "::", "|", " ", "Batch size: ",
                     "Seed: 5", "Steps: 20", "Size: 28x28", "Family: vae", "Latent: 0.5 -1", "Redraws: 3@4"]),
    st.text(max_size=8))


@settings(max_examples=60, deadline=None)
@given(st.lists(_fragments, max_size=30).map("".join))
def test_any_parameters_text_is_a_request_or_a_request_error(text):
    try:
        req = GenerationRequest.from_parameters(text)
    except RequestError as e:
        assert str(e).endswith(".")
        return
    assert GenerationRequest.from_dict(json.loads(req.to_json())) == req


def test_every_catalog_family_round_trips_its_parameters():
    for name, info in CATALOG.items():
        req = GenerationRequest(family=name, sampler=info.samplers[0] if info.samplers else "", prompt="a",
                                seed=3, truncation=0.5, temperature=0.5).normalized()
        assert GenerationRequest.from_parameters(req.to_parameters()) == req, name


def _valid(family: str, init_image: str, strength: float, **kw) -> GenerationRequest:
    # Strength is read only with an input image; without one the parameters leave it out.
    return GenerationRequest(family=family, sampler=(CATALOG[family].samplers or ("",))[0], init_image=init_image,
                             strength=strength if init_image else 0.6, **kw)


_valid_requests = st.builds(
    _valid, family=st.sampled_from(sorted(CATALOG)),
    init_image=st.sampled_from(["", "0123456789abcdef"]),
    prompt=st.text(st.sampled_from("ab é赤✨,.\n"), max_size=30),
    checkpoint=st.text(st.sampled_from("abc-_ 09"), max_size=20).map(lambda c: f"m{c}m"),
    steps=st.integers(1, 1000), guidance=st.floats(0, 30), seed=st.integers(0, MAX_SEED),
    batch_size=st.integers(1, 16), eta=st.floats(0, 1), width=st.integers(1, 64), height=st.integers(1, 64),
    truncation=st.floats(0, 1), temperature=st.floats(0, 5), top_k=st.integers(0, 4096),
    top_p=st.floats(0.001, 1), strength=st.floats(0, 1))


@settings(max_examples=60, deadline=None)
@given(_valid_requests)
def test_a_valid_request_round_trips_json_and_its_parameters(req):
    req = req.validated()
    assert GenerationRequest.from_dict(json.loads(req.to_json())) == req
    shown = req.normalized()
    assert GenerationRequest.from_parameters(shown.to_parameters()) == shown
    assert shown.normalized() == shown


# --- mid-run edits (the step debugger) ---------------------------------------------------------------------
_EDITED = GenerationRequest(family="diffusion", checkpoint="x", prompt="a red, round circle", steps=10,
                            edits=((2, "guidance", 5.5), (2, "prompt", 'a "blue", square'), (7, "sampler", "euler")))


def test_edits_round_trip_through_the_png_text_and_json():
    assert GenerationRequest.from_parameters(_EDITED.to_parameters()) == _EDITED
    assert GenerationRequest.from_dict(json.loads(json.dumps(_EDITED.to_dict()))) == _EDITED
    assert _EDITED.settings_at(1)["guidance"] == _EDITED.guidance and _EDITED.settings_at(2)["guidance"] == 5.5
    assert _EDITED.settings_at(9)["sampler"] == "euler" and _EDITED.edits_at(7) == {"sampler": "euler"}


def test_a_request_without_edits_writes_what_it_wrote_before():
    plain = _EDITED.with_(edits=())
    assert "edits" not in plain.to_dict() and "Edits" not in plain.to_parameters()


@pytest.mark.parametrize("edits,message", [
    (((0, "guidance", 2.0),), "step is the number of steps done"),
    (((10, "guidance", 2.0),), "step is the number of steps done"),
    (((2, "seed", "4"),), "cannot change mid-run"),
    (((2, "guidance", float("nan")),), "Guidance scale"),
    (((2, "sampler", "warp"),), "samples with"),
    (((3, "guidance", 2.0), (2, "guidance", 3.0)), "in order of step"),
    (((2, "guidance", 2.0), (2, "guidance", 3.0)), "at most one edit"),
    (tuple((1 + i % 8, "prompt", "x" * 4000) for i in range(6)), "too long"),
])
def test_bad_edits_are_refused_with_a_message(edits, message):
    with pytest.raises(RequestError, match=message):
        _EDITED.with_(edits=edits).validated()


def test_hostile_edit_text_is_refused_before_parsing():
    text = _EDITED.to_parameters().replace('Edits: [', 'Edits: ' + "[" * 100000)
    with pytest.raises(RequestError):
        GenerationRequest.from_parameters(text)
    with pytest.raises(RequestError):
        GenerationRequest.from_parameters(_EDITED.to_parameters().replace('Edits: [', 'Edits: {'))
