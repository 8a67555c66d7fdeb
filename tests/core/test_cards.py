"""Model cards and checkpoint headers are files a user may have edited or damaged: each is read into
the shape the studio uses, or refused with a CheckpointError that says what is wrong."""
import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.cards import check_card, header_json, read_card, read_header_metadata
from studio.core.errors import CheckpointError

# Any JSON value: what a card, a config or a header's metadata may turn out to hold.
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
CARD_KEYS = st.sampled_from(["id", "title", "family", "reproduce", "data", "config", "training", "metrics", "other"])
CARDS = JSON | st.dictionaries(CARD_KEYS, JSON | st.fixed_dictionaries({"dataset": JSON}), max_size=5)


@pytest.mark.parametrize(("card", "message"), [
    ([1, 2, 3], "must be a JSON object, not a list"),
    ({"data": "x"}, "has data 'x'; it must be a JSON object"),
    ({"title": 5}, "has title 5; it must be text"),
    ({"data": {"dataset": 7}}, "data.dataset 7"),
    ("a card", "must be a JSON object, not text"),
])
def test_malformed_cards_are_named(card, message, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=message):
        read_card(tmp_path / "m.safetensors")


def test_good_cards_pass_unchanged(tmp_path):
    card = {"id": "m", "title": None, "data": {"dataset": "tiny", "split": 3}, "metrics": {}, "future": [1]}
    assert check_card(card, "m.json") is card
    assert read_card(tmp_path / "none.safetensors") == {}


@pytest.mark.parametrize("text", ["[[[[" * 50_000, "1" * 5000, "\xff\xfe", '{"a": 1e999}x'])
def test_unparseable_cards_are_checkpoint_errors(text, tmp_path):
    (tmp_path / "m.json").write_bytes(text.encode("utf-8", "surrogateescape") if text != "\xff\xfe" else b"\xff\xfe")
    with pytest.raises(CheckpointError, match="m.json"):
        read_card(tmp_path / "m.safetensors")


def test_an_oversized_card_is_refused_unread(tmp_path):
    (tmp_path / "m.json").write_text('{"reproduce": "' + "x" * (2 << 20) + '"}')
    with pytest.raises(CheckpointError, match="larger than"):
        read_card(tmp_path / "m.safetensors")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(card=CARDS)
def test_any_json_card_is_a_card_or_a_checkpoint_error(card, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(card))
    try:
        got = read_card(tmp_path / "m.safetensors")
    except CheckpointError as e:
        assert "m.json" in str(e) and "\n" not in str(e)
        return
    assert isinstance(got, dict)
    assert all(got.get(k) is None or isinstance(got[k], str) for k in ("id", "title", "family", "reproduce"))
    assert all(got.get(k) is None or isinstance(got[k], dict) for k in ("data", "config", "training", "metrics"))


def _header_file(path, header: object) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=JSON | st.fixed_dictionaries({"__metadata__": JSON | st.dictionaries(st.text(max_size=6), JSON)}))
def test_any_json_header_is_metadata_or_a_checkpoint_error(header, tmp_path):
    path = tmp_path / "m.safetensors"
    _header_file(path, header)
    try:
        meta = read_header_metadata(path)
    except CheckpointError as e:
        assert "m.safetensors" in str(e)
        return
    assert isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())


@settings(max_examples=60, deadline=None)
@given(value=JSON)
def test_any_json_config_text_is_an_object_or_a_checkpoint_error(value):
    try:
        got = header_json({"config": json.dumps(value)}, "config", "m.safetensors")
    except CheckpointError as e:
        assert "m.safetensors" in str(e)
        return
    assert isinstance(got, dict)


@pytest.mark.parametrize("text", ["[]", "not json", "5", '"{}"', "[" * 100_000])
def test_damaged_config_text(text):
    with pytest.raises(CheckpointError, match="damaged architecture config"):
        header_json({"config": text}, "config", "m.safetensors")
    with pytest.raises(CheckpointError, match="no architecture config"):
        header_json({}, "config", "m.safetensors")
