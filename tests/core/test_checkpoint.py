"""Checkpoint round trip, and clear refusals of corrupt, truncated or mismatched files."""
import json

import pytest
import torch
from safetensors.torch import save_file

from studio.core import checkpoint
from studio.core.errors import CheckpointError
from studio.core.families.diffusion.family import DiffusionFamily
from studio.store import registry
from tests.conftest import make_tiny_checkpoint


def test_round_trip_rebuilds_the_same_model(tmp_path):
    path = make_tiny_checkpoint(tmp_path / "m.safetensors")
    ck = checkpoint.load(path, family="diffusion")
    assert ck.id == "m" and ck.family == "diffusion" and len(ck.sha256) == 12
    assert ck.card["data"]["dataset"] == "tiny"
    a = DiffusionFamily(ck, encoder=None)
    b = DiffusionFamily.from_checkpoint(path)
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    assert not list(tmp_path.glob(".*.tmp")), "atomic write left a temporary file"


def test_garbage_file_is_refused(tmp_path):
    p = tmp_path / "junk.safetensors"
    p.write_bytes(b"this is not a checkpoint at all" * 10)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        checkpoint.load(p)


def test_truncated_file_is_refused(tmp_path):
    path = make_tiny_checkpoint(tmp_path / "m.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        checkpoint.load(path)
    infos, problems = registry.scan([tmp_path])  # the header survives, so it is still listed...
    with pytest.raises(CheckpointError):  # ...but loading it gives a message, not a crash
        DiffusionFamily.from_checkpoint(path)


def test_wrong_architecture_is_refused(tmp_path):
    path = make_tiny_checkpoint(tmp_path / "m.safetensors")
    ck = checkpoint.load(path)
    config = json.loads(json.dumps(ck.config))
    config["unet"]["base_channels"] = 16  # the weights are for 8
    checkpoint.save(path, family="diffusion", config=config, tensors=ck.tensors)
    with pytest.raises(CheckpointError, match="does not match the architecture"):
        DiffusionFamily.from_checkpoint(path)


def test_other_family_and_foreign_safetensors_are_refused(tmp_path):
    path = make_tiny_checkpoint(tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="not a vae model"):
        checkpoint.load(path, family="vae")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a Generative Studio checkpoint"):
        checkpoint.load(foreign)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "nope.safetensors")


def test_registry_lists_good_files_and_explains_bad_ones(tmp_path):
    make_tiny_checkpoint(tmp_path / "good.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x01")
    (tmp_path / "good.state.safetensors").write_bytes(b"ignored")
    infos, problems = registry.scan([tmp_path])
    assert [i.id for i in infos] == ["good"]
    assert infos[0].family == "diffusion" and infos[0].dataset == "tiny"
    assert len(problems) == 1 and "bad.safetensors" in problems[0]
    assert registry.find(str(tmp_path / "good.safetensors")).id == "good"
    with pytest.raises(CheckpointError, match="No checkpoint named"):
        registry.find("nothing-like-this", [tmp_path])
