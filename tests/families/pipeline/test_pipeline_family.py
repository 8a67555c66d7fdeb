"""Bring your own Stable Diffusion: tiny random pipelines built here, saved as a diffusers folder and as
a single original-layout .safetensors file, registered in the user's data folder and opened through
the studio's own path (registry -> family), never downloading anything."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("diffusers")

from studio.core.errors import CheckpointError, RequestError, StudioError  # noqa: E402
from studio.core.request import GenerationRequest  # noqa: E402
from studio.store.inputs import store_input  # noqa: E402
from studio.store.pngmeta import read_settings, save_png  # noqa: E402
from studio.store.registry import add_pipeline, load_model, remove_pipeline, scan  # noqa: E402

from .tiny import SIZE, save_folder, shared  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def folder_model(data_dir):
    info = add_pipeline(shared())
    return load_model(info.id)


def test_a_folder_and_its_single_file_are_listed_and_make_the_same_pixels(data_dir):
    folder = add_pipeline(shared())
    single = add_pipeline(shared(single_file=True))
    assert (folder.id, single.id) == ("tiny-sd", "tiny-sd-2"), "ids are the names, made unique"
    infos, problems = scan()
    listed = {i.id: i for i in infos if i.family == "pipeline"}
    assert set(listed) == {"tiny-sd", "tiny-sd-2"} and not problems
    assert listed["tiny-sd"].config["title"] == "diffusion pipeline (diffusers folder)"
    assert (listed["tiny-sd-2"].config["width"], listed["tiny-sd-2"].config["height"]) == (SIZE, SIZE)
    a, b = load_model("tiny-sd"), load_model("tiny-sd-2")
    req = a.default_request().with_(prompt="a red cat", negative_prompt="dog", steps=4, seed=3, batch_size=2)
    assert np.array_equal(a.generate(req), b.generate(req)), "the converted single file is the same model"
    assert a.checkpoint.sha256 != b.checkpoint.sha256 and len(b.checkpoint.sha256) == 12
    assert add_pipeline(shared()).id == "tiny-sd", "adding the same folder again keeps its entry"


def test_the_preview_streams_a_frame_per_step_linear_or_decoded_every_k(data_dir):
    info = add_pipeline(shared())
    linear = load_model(info.id)
    req = linear.default_request().with_(prompt="a cat", steps=5, seed=1, sampler="euler")
    frames = list(linear.sample(req))
    assert [f.step for f in frames] == [1, 2, 3, 4, 5] and [f.final for f in frames] == [False] * 4 + [True]
    assert all(f.preview.shape == (1, SIZE, SIZE, 3) for f in frames)
    for f in frames[:-1]:  # a linear map of the 8x8 latent, shown enlarged: 2x2 blocks of one colour
        p = f.preview[0]
        assert np.array_equal(p, np.repeat(np.repeat(p[::2, ::2], 2, 0), 2, 1))
    decoded = load_model(info.id, preview="decode", decode_every=2)
    dframes = list(decoded.sample(req))
    assert np.array_equal(dframes[-1].preview, frames[-1].preview), "the final image is always decoded"
    assert np.array_equal(dframes[2].preview, dframes[1].preview), "between decodes the last decode stays up"
    assert not np.array_equal(dframes[3].preview, dframes[1].preview)
    with pytest.raises(ValueError, match="preview"):
        load_model(info.id, preview="vae")


def test_the_same_seed_reproduces_the_same_pixels_at_the_size_asked(folder_model):
    m = folder_model
    req = m.resolve(m.default_request().with_(prompt="a boot", steps=3, seed=9, width=24, height=16))
    assert (req.width, req.height, req.guidance) == (24, 16, 7.0)
    images = m.generate(req)
    assert images.shape == (1, 16, 24, 3)
    assert np.array_equal(images, m.generate(req))
    assert not np.array_equal(images, m.generate(req.with_(seed=10)))
    assert not np.array_equal(images, m.generate(req.with_(prompt="a dog"))), "the prompt matters"
    for sampler in m.samplers:  # every studio sampler runs on the U-Net and its scheduler's betas
        assert m.generate(req.with_(sampler=sampler)).shape == (1, 16, 24, 3)
    with pytest.raises(RequestError, match="multiples of 2 pixels"):
        m.resolve(req.with_(width=25))


def test_image_to_image_starts_from_the_input(folder_model):
    m = folder_model
    image = np.random.default_rng(0).integers(0, 256, (SIZE, 24, 3), dtype=np.uint8)
    req = m.default_request().with_(prompt="a cat", steps=4, seed=2, width=24, init_image=store_input(image))
    assert np.array_equal(m.generate(req.with_(strength=0.0), init=image)[0], image)
    frames = list(m.sample(req.with_(strength=0.5), init=image))
    assert len(frames) == 2 and frames[-1].final, "strength 0.5 runs the last half of the steps"
    assert not np.array_equal(frames[-1].preview, m.generate(req.with_(init_image="")))
    with pytest.raises(StudioError, match="makes 24x16 RGB images"):
        m.generate(req, init=image[:, :SIZE])


def test_v_prediction_models_run(data_dir):
    m = load_model(add_pipeline(shared("tiny-sd-v", prediction="v_prediction")).id)
    assert m.prediction == "v"
    assert m.generate(m.default_request().with_(steps=2)).shape == (1, SIZE, SIZE, 3)


def test_a_folder_missing_a_component_is_refused_with_its_name(data_dir, tmp_path):
    folder = shutil.copytree(shared(), tmp_path / "broken-sd")
    shutil.rmtree(folder / "vae")
    with pytest.raises(CheckpointError, match=r"missing vae \(the VAE between latents and pixels\)"):
        add_pipeline(folder)
    good = shutil.copytree(shared(), tmp_path / "was-good")
    add_pipeline(good)
    (good / "text_encoder" / "model.safetensors").unlink()  # gone after it was added
    infos, problems = scan()
    assert "was-good" not in {i.id for i in infos}
    [broken] = [b for b in problems if b.id == "was-good"]
    assert broken.family == "pipeline" and "text_encoder" in broken and "model.safetensors" in broken
    with pytest.raises(CheckpointError, match="text_encoder"):
        load_model("was-good")
    (tmp_path / "not-sd").mkdir()
    with pytest.raises(CheckpointError, match="no model_index.json"):
        add_pipeline(tmp_path / "not-sd")
    remove_pipeline("was-good")
    assert not scan()[1]


def test_a_png_reproduces_through_its_a1111_parameters(folder_model, tmp_path):
    m = folder_model
    req = m.resolve(m.default_request().with_(prompt="a red boot", negative_prompt="dog", steps=3, seed=4,
                                              sampler="dpm++2m-karras", width=SIZE, height=24, batch_size=2))
    text = req.to_parameters()
    assert text.startswith("a red boot\nNegative prompt: dog\nSteps: 3, Sampler: dpm++2m-karras, CFG scale: 7, "
                           f"Seed: 4, Size: {SIZE}x24, Model hash: {m.checkpoint.sha256}, Model: tiny-sd, ")
    images = m.generate(req)
    path = save_png(tmp_path / "out.png", images[1], req, 1)
    back, index = read_settings(path)
    assert (back, index) == (req, 1)
    assert np.array_equal(m.generate(back)[index], images[1])
    assert GenerationRequest.from_parameters(text) == req


def test_models_add_and_remove_from_the_command_line(data_dir, capsys):
    from studio.cli import main

    assert main(["models", "add", str(shared()), "--id", "my sd"]) == 0
    out = capsys.readouterr().out
    assert "added my sd: diffusion pipeline (diffusers folder), trained at 16x16" in out
    assert main(["models", "--family", "pipeline"]) == 0
    assert "my sd" in capsys.readouterr().out
    assert json.loads((data_dir / "pipelines.json").read_text()) == [{"id": "my sd", "path": str(shared())}]
    assert main(["models", "remove", "my sd"]) == 0
    assert main(["models", "remove", "my sd"]) == 2
    assert "No added pipeline is named 'my sd'" in capsys.readouterr().err


def test_the_hash_is_computed_once_per_file_version(data_dir, tmp_path, monkeypatch):
    from studio.store import pipelines

    calls = []
    real = pipelines.sha256_of
    monkeypatch.setattr(pipelines, "sha256_of", lambda p: calls.append(p) or real(p))
    single = shutil.copy(shared(single_file=True), tmp_path / "mine.safetensors")
    shutil.copytree(shared(single_file=True).parent / "tokenizer", tmp_path / "tokenizer")
    info = add_pipeline(single)
    first = load_model(info.id).checkpoint.sha256
    assert len(calls) == 1 and first == real(single)[:12], "a single file's hash is its sha256 (A1111's, longer)"
    assert load_model(info.id).checkpoint.sha256 == first and len(calls) == 1, "cached by path, mtime and size"
    with open(single, "r+b") as f:  # change a byte of the header's padding-free tail: a new version
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    assert load_model(info.id).checkpoint.sha256 != first and len(calls) == 2


def test_without_diffusers_the_studio_says_how_to_add_it(data_dir, monkeypatch):
    import sys

    from studio.core.families.pipeline.components import require_diffusers

    info = add_pipeline(shared())  # listing and adding read configs only
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(StudioError, match=r'pip install "generative-studio\[pipelines\]"'):
        require_diffusers()
    with pytest.raises(StudioError, match="needs diffusers and transformers"):
        load_model(info.id)
    assert info.id in {i.id for i in scan()[0]}


def test_a_single_file_without_a_tokenizer_names_it(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    lone = shutil.copy(shared(single_file=True), tmp_path / "lone.safetensors")
    info = add_pipeline(lone)
    with pytest.raises(CheckpointError, match="has no tokenizer .*'tokenizer' beside the file"):
        load_model(info.id)


def test_a_second_seed_batch_matches_single_images(data_dir):
    """Image i of a batch with seed s is image 0 of seed s + i (the contract, at a size of its own)."""
    m = load_model(add_pipeline(save_folder(data_dir.parent / "other-sd", seed=1)).id)
    req = m.default_request().with_(prompt="a cat", steps=2, seed=20, width=24, batch_size=3)
    batch = m.generate(req)
    for i in range(3):
        single = m.generate(req.with_(seed=20 + i, batch_size=1))[0]
        assert np.abs(batch[i].astype(int) - single.astype(int)).max() <= 1
