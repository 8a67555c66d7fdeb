"""One bad file in a checkpoints folder never blocks the others: ``scan`` lists every good checkpoint
and reports each bad one (with its reason, and its family when the header says), ``find`` and
``load_model`` of a good one still work, and ``find`` of a bad one gives its reason."""
import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from studio.core import checkpoint
from studio.core.errors import CheckpointError
from studio.store import registry
from tests.conftest import make_tiny_checkpoint
from tests.core.test_cards import CARDS, JSON

BAD_CARDS = {"card-list": [1, 2, 3], "card-data": {"data": "x"}, "card-title": {"title": 5}}


def with_metadata(good, path, **meta) -> None:
    """``good``'s weights with these header fields replaced (written without any check)."""
    ck = checkpoint.load(good)
    base = {"format": checkpoint.FORMAT, "family": "diffusion", "config": json.dumps(ck.config), "extra": "{}"}
    save_file(ck.tensors, str(path), metadata={**base, **meta})


@pytest.fixture
def folder(tmp_path):
    """One good tiny checkpoint, and beside it each bad file the issue names."""
    tmp_path = tmp_path / "checkpoints"
    good = make_tiny_checkpoint(tmp_path / "good.safetensors")
    for name, card in BAD_CARDS.items():
        make_tiny_checkpoint(tmp_path / f"{name}.safetensors").with_suffix(".json").write_text(json.dumps(card))
    with_metadata(good, tmp_path / "config-list.safetensors", config="[]")
    with_metadata(good, tmp_path / "config-text.safetensors", config="not json")
    huge = json.loads(json.dumps(checkpoint.load(good).config))
    huge["unet"].update(image_size=1 << 20, base_channels=1 << 20)
    with_metadata(good, tmp_path / "config-huge.safetensors", config=json.dumps(huge))
    return tmp_path


def test_bad_files_are_listed_as_broken_and_skipped(folder):
    infos, problems = registry.scan([folder])
    assert [i.id for i in infos] == ["good"]
    reasons = {p.id: str(p) for p in problems}
    assert set(reasons) == set(BAD_CARDS) | {"config-list", "config-text", "config-huge"}
    assert "must be a JSON object, not a list" in reasons["card-list"]
    assert "data 'x'" in reasons["card-data"] and "title 5" in reasons["card-title"]
    assert "damaged architecture config" in reasons["config-list"] and "config-text" in reasons["config-text"]
    assert "unet.image_size" in reasons["config-huge"]
    assert all(p.family == "diffusion" and p.path.parent == folder for p in problems)
    assert "\n".join(problems)  # still text wherever problems were printed or joined


def test_find_and_load_work_beside_broken_files(folder):
    assert registry.find("good", [folder]).id == "good"
    with pytest.raises(CheckpointError, match="card-title cannot be used: The model card card-title.json has title 5"):
        registry.find("card-title", [folder])
    with pytest.raises(CheckpointError, match="title 5"):
        registry.find(str(folder / "card-title.safetensors"))


def test_load_model_and_generate_beside_broken_files(folder, data_dir):
    """The whole path a generation takes (find by id, load) through a user folder with bad files."""
    import shutil

    shutil.copytree(folder, data_dir / "checkpoints")
    model = registry.load_model("good")
    assert model.checkpoint.id == "good"


def test_family_filter_keeps_unknown_broken_files(folder):
    (folder / "junk.safetensors").write_bytes(b"\x01")
    infos, problems = registry.scan([folder], family="vae")
    assert infos == [] and [p.id for p in problems] == ["junk"]  # its family is unknown: it may be a vae


def _header_file(path, header: object) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


METADATA = st.fixed_dictionaries({"format": st.just(checkpoint.FORMAT) | JSON,
                                  "family": st.sampled_from(["diffusion", "vae", "gan", "autoregressive", "toy", ""]) | JSON,
                                  "config": JSON.map(json.dumps) | JSON})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meta=METADATA | JSON, card=st.none() | CARDS)
def test_any_header_and_card_is_info_or_checkpoint_error(meta, card, tmp_path):
    path = tmp_path / "fuzz.safetensors"
    _header_file(path, {"__metadata__": meta})
    if card is not None:
        path.with_suffix(".json").write_text(json.dumps(card))
    else:
        path.with_suffix(".json").unlink(missing_ok=True)
    try:
        info = registry.inspect(path)
    except CheckpointError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(info.family, str) and isinstance(info.dataset, str) and isinstance(info.title, str)


@st.composite
def damaged_checkpoints(draw, good_bytes: bytes) -> bytes:
    """A good checkpoint file with its header's JSON or its bytes changed."""
    (n,) = struct.unpack("<Q", good_bytes[:8])
    header = json.loads(good_bytes[8:8 + n])
    kind = draw(st.sampled_from(["metadata", "config-field", "bytes"]))
    if kind == "bytes":
        data = bytearray(good_bytes)
        for _ in range(draw(st.integers(1, 6))):
            data[draw(st.integers(0, min(len(data), 8 + n + 64) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    meta = header["__metadata__"]
    if kind == "metadata":
        meta[draw(st.sampled_from(["format", "family", "config", "extra"]))] = draw(JSON.map(json.dumps) | JSON)
    else:
        config = json.loads(meta["config"])
        section = config["unet"] if draw(st.booleans()) else config.get("schedule", {})
        section[draw(st.sampled_from(sorted(section) + ["new"]))] = draw(JSON)
        meta["config"] = json.dumps(config)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + good_bytes[8 + n:]


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory) -> bytes:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("good") / "g.safetensors").read_bytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), card=st.none() | CARDS)
def test_scan_lists_the_good_one_beside_any_fuzzed_one(data, card, good_bytes, tmp_path_factory):
    d = tmp_path_factory.mktemp("scan")
    (d / "a-good.safetensors").write_bytes(good_bytes)
    bad = d / "b-fuzzed.safetensors"
    bad.write_bytes(data.draw(damaged_checkpoints(good_bytes)))
    if card is not None:
        bad.with_suffix(".json").write_text(json.dumps(card))
    infos, problems = registry.scan([d])
    assert "a-good" in [i.id for i in infos]
    assert len(infos) + len(problems) == 2
    assert all(isinstance(p, str) and p.path == bad for p in problems)


def test_a_checkpoint_cut_short_is_listed_as_broken(tmp_path):
    """Listing reads only the header; the header's data offsets still say how long the file must be."""
    folder = tmp_path / "checkpoints"
    good = make_tiny_checkpoint(folder / "good.safetensors")
    cut = folder / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    found, problems = registry.scan([folder])
    assert [i.id for i in found] == ["good"]
    [problem] = problems
    assert problem.id == "cut" and "truncated" in problem


def test_checkpoints_are_listed_by_id_so_a_model_comes_before_its_variants(tmp_path):
    from studio.store.registry import scan
    from tests.conftest import make_tiny_checkpoint

    for name in ("m-latent", "m", "a"):
        make_tiny_checkpoint(tmp_path / f"{name}.safetensors")
    infos, broken = scan([tmp_path])
    assert [i.id for i in infos] == ["a", "m", "m-latent"] and broken == []
