"""The contract every generator family keeps, written once and run over each family's tiny checkpoint
(as diffusers runs one scheduler test base over every scheduler).

A family's subclass (tests/families/test_contract.py) says only how to make its tiny checkpoint and
how its requests differ (steps, sampler, ...). What the family can do is read from its catalog entry:
each declared capability is exercised, each undeclared one must be refused with exactly the
catalog's message, so adding a capability to the catalog without its methods (or the reverse) fails
here."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image

from studio.core.catalog import CATALOG, FamilyInfo
from studio.core.errors import RequestError, StudioError
from studio.core.request import MAX_BATCH, GenerationRequest
from studio.store.inputs import load_input, store_input
from studio.store.pngmeta import read_settings, save_png
from studio.store.registry import load_model
from tests.conftest import needs_fmnist

# The capabilities with methods or request fields of their own ("attributes" is a latent-panel
# feature with nothing to call on the Family).
CHECKED = ("img2img", "encode", "decode", "redraw", "likelihood", "edits", "video", "preview_modes")
FMNIST_SHAPE = (28, 28, 1)


def assert_close(a: np.ndarray, b: np.ndarray, tolerance: int, what: str = "") -> None:
    """Equal uint8 images, or within ``tolerance`` grey levels (where batching changes float sums)."""
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8, what
    worst = int(np.abs(a.astype(int) - b.astype(int)).max())
    assert worst <= tolerance, f"{what}: differs by {worst} grey levels (allowed {tolerance})"


def raster(images: np.ndarray) -> np.ndarray:
    """(B, H, W, C) -> (B, H * W, C): pixels in raster order (the order redraw positions count)."""
    return images.reshape(images.shape[0], -1, images.shape[-1])


def binary_pattern(shape: tuple[int, ...], seed: int = 2) -> np.ndarray:
    """A 0/255 image: every family shows it the same way (thresholded or stochastically binarised)."""
    return (np.random.default_rng(seed).integers(0, 2, shape) * 255).astype(np.uint8)


class FamilyContract:
    """Subclass as ``TestXContract(FamilyContract)`` with ``info`` and ``make_checkpoint``."""

    info: ClassVar[FamilyInfo]  # the family's catalog entry
    checkpoint_id: ClassVar[str] = "contract-model"
    # Family-specific settings every request of the contract starts from (few steps, its sampler...).
    request_changes: ClassVar[dict[str, Any]] = {}
    # Grey levels image i of a batch may differ from image 0 of seed s + i (float batching).
    batch_tolerance: ClassVar[int] = 0
    # For a family whose unit is "row": frames per image (rows of positions); default: pixel rows.
    rows: ClassVar[int | None] = None
    # Capabilities known to break the contract: {capability: reason}; their checks are strict xfails.
    known_bugs: ClassVar[dict[str, str]] = {}
    seed: ClassVar[int] = 5

    # --- what a subclass provides ---------------------------------------------------------------
    def make_checkpoint(self, path: Path) -> Path:
        """Write the family's tiny checkpoint at ``path`` (in the user's checkpoint folder)."""
        raise NotImplementedError

    def likelihood_checkpoint(self, path: Path) -> Path:
        """For families declaring "likelihood": a tiny unconditional model of Fashion-MNIST's 28x28
        grey images (the only data the likelihood is measured on)."""
        raise NotImplementedError

    def registration(self) -> contextlib.AbstractContextManager:
        """Registers the family for the test's duration (a family defined outside the studio)."""
        return contextlib.nullcontext()

    # --- parametrisation: declared capabilities are exercised, undeclared ones refused -----------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        def param(cap: str):
            marks = []
            if cap in self.known_bugs:
                marks.append(pytest.mark.xfail(strict=True, reason=self.known_bugs[cap]))
            if cap == "likelihood":
                marks.append(needs_fmnist)
            return pytest.param(cap, marks=marks, id=cap)

        if "declared" in metafunc.fixturenames:
            metafunc.parametrize("declared", [param(c) for c in CHECKED if self.info.can(c)])
        if "undeclared" in metafunc.fixturenames:
            metafunc.parametrize("undeclared", [param(c) for c in CHECKED if not self.info.can(c)])

    # --- fixtures -------------------------------------------------------------------------------
    @pytest.fixture
    def model(self, data_dir):
        with self.registration():
            path = self.make_checkpoint(data_dir / "checkpoints" / f"{self.checkpoint_id}.safetensors")
            yield load_model(path.stem)

    @pytest.fixture
    def req(self, model) -> GenerationRequest:
        return model.default_request().with_(seed=self.seed, **self.request_changes)

    def frames_per_image(self, model, request: GenerationRequest) -> int:
        unit = self.info.unit
        if unit == "step":
            return request.steps
        if unit == "row":
            return self.rows or model.image_format.height
        assert unit == "", f"unknown unit {unit!r}"
        return 1

    # --- the contract ---------------------------------------------------------------------------
    def test_the_model_is_what_its_catalog_entry_says(self, model):
        info = CATALOG[self.info.name]
        assert info is self.info and model.name == info.name and model.info is info
        assert (model.controls, model.samplers, model.label) == (info.controls, info.samplers, info.label)
        assert model.capabilities <= info.capabilities
        for cap in CHECKED:
            assert model.can(cap) == info.can(cap), cap
        f = model.image_format
        assert f.channels in (1, 3) and f.kind in ("grey", "binary", "rgb") and (f.kind == "rgb") == (f.channels == 3)
        assert model.image_size == (f.width, f.height) and f.shape == (f.height, f.width, f.channels)
        assert (model.latent_dim > 0) == info.can("decode")
        d = model.default_request()
        assert (d.family, d.checkpoint, d.checkpoint_hash) == (info.name, model.checkpoint.id, model.checkpoint.sha256)
        assert (d.width, d.height) == model.image_size
        assert d.sampler == (info.samplers[0] if info.samplers else "")

    def test_image_i_of_a_batch_with_seed_s_is_image_0_of_seed_s_plus_i(self, model, req):
        batch = model.generate(req.with_(batch_size=3))
        assert batch.shape == (3, *model.image_format.shape) and batch.dtype == np.uint8
        assert np.array_equal(batch, model.generate(req.with_(batch_size=3))), "the same request, the same pixels"
        assert not np.array_equal(batch[0], batch[1]), "different seeds, different images"
        for i in range(3):
            single = model.generate(req.with_(seed=self.seed + i))
            assert single.shape == (1, *model.image_format.shape)
            assert_close(batch[i], single[0], self.batch_tolerance, f"image {i} of seed {self.seed}")

    def test_one_frame_per_step_and_the_final_one_last(self, model, req):
        r = req.with_(batch_size=2)
        frames = list(model.sample(r))
        n = self.frames_per_image(model, r)
        assert len(frames) == n, f"unit {self.info.unit!r}: {n} frames expected"
        assert [f.step for f in frames] == list(range(1, n + 1)) and {f.total for f in frames} == {n}
        assert [f.final for f in frames] == [False] * (n - 1) + [True]
        for f in frames:
            assert f.preview.shape == (2, *model.image_format.shape) and f.preview.dtype == np.uint8
        if self.info.unit:
            assert {f.unit for f in frames} == {self.info.unit}
        if self.info.unit == "row":  # the rows drawn so far are marked, all of them at the end
            h = model.image_format.height
            assert h % n == 0
            for f in frames[:-1]:
                rows = f.step * h // n
                assert f.sampled[:rows].all() and not f.sampled[rows:].any()
            assert frames[-1].sampled is None or frames[-1].sampled.all()
        assert np.array_equal(frames[-1].preview, model.generate(r)), "the final frame is the image"

    def test_a_request_round_trips_through_json_the_png_and_its_parameters(self, model, req, tmp_path):
        prompt = "a boot, «ankle» high" if "prompt" in self.info.controls else ""
        r = model.resolve(req.with_(prompt=prompt, batch_size=2))
        images = model.generate(r)
        via_json = GenerationRequest.from_dict(json.loads(r.to_json()))
        assert via_json == r and np.array_equal(model.generate(via_json), images)
        via_text = GenerationRequest.from_parameters(r.to_parameters())
        assert via_text == r and np.array_equal(model.generate(via_text), images)
        for i, image in enumerate(images):
            path = save_png(tmp_path / f"{i}.png", image, r, i)
            back, index = read_settings(path)
            assert (back, index) == (r, i)
            with Image.open(path) as im:
                assert np.array_equal(np.asarray(im).reshape(image.shape), image)
            assert np.array_equal(model.generate(back)[index], image), f"image {i} made again from its PNG"

    def test_resolve_fills_the_hash_and_size_and_is_idempotent(self, model, req):
        sized = "size" in self.info.controls  # its models draw at the size asked (a multiple of their factor)
        bare = GenerationRequest(seed=self.seed, **self.request_changes)
        wrong = bare.with_(checkpoint="elsewhere", checkpoint_hash="0123456789ab",
                           **({"width": 40, "height": 24} if sized else {"width": 999, "height": 3}))
        for asked in (bare, wrong):
            resolved = model.resolve(asked)
            assert (resolved.family, resolved.checkpoint) == (self.info.name, model.checkpoint.id)
            assert resolved.checkpoint_hash == model.checkpoint.sha256 and len(resolved.checkpoint_hash) == 12
            assert (resolved.width, resolved.height) == ((asked.width, asked.height) if sized else model.image_size)
            assert model.resolve(resolved) == resolved
            assert model.resolve(model.resolve(resolved)) == resolved
        assert model.resolve(req) == model.resolve(model.resolve(req))
        assert np.array_equal(model.generate(bare), model.generate(model.resolve(bare)))
        bad_sizes = ({"width": 999}, {"height": 3}) if sized else ()
        for bad in ({"batch_size": MAX_BATCH + 1}, {"seed": -1}, {"steps": 0}, *bad_sizes):
            with pytest.raises(RequestError):
                model.resolve(req.with_(**bad))

    def test_generate_many_goes_past_one_batch_seed_by_seed(self, model, req):
        n = MAX_BATCH + 2
        batches = list(model.batches(req, n))
        assert [(b.seed, b.batch_size) for b, _ in batches] == [(self.seed, MAX_BATCH), (self.seed + MAX_BATCH, 2)]
        assert all(b.checkpoint_hash == model.checkpoint.sha256 for b, _ in batches), "each batch is resolved"
        assert [len(images) for _, images in batches] == [MAX_BATCH, 2]
        many = model.generate_many(req, n)
        assert many.shape == (n, *model.image_format.shape) and many.dtype == np.uint8
        assert np.array_equal(many, np.concatenate([images for _, images in batches]))
        for j in (0, 1, MAX_BATCH - 1, MAX_BATCH, n - 1):
            assert_close(many[j], model.generate(req.with_(seed=self.seed + j))[0], self.batch_tolerance,
                         f"image {j} of {n}")
        with pytest.raises(RequestError, match="at least 1"):
            model.generate_many(req, 0)

    def test_a_declared_capability_works(self, model, req, declared, data_dir, tmp_path):
        getattr(self, f"check_{declared}")(model, req, data_dir=data_dir, tmp_path=tmp_path)

    def test_an_undeclared_capability_is_refused_with_the_catalog_message(self, model, req, undeclared):
        assert not model.can(undeclared)
        message = CATALOG[self.info.name].refusal(undeclared)
        f = model.image_format

        def refused(call) -> None:
            with pytest.raises(StudioError) as e:
                call()
            assert str(e.value) == message

        if undeclared == "img2img":
            image = binary_pattern(f.shape)
            r = req.with_(init_image=store_input(image))
            refused(lambda: model.resolve(r))
            refused(lambda: model.sample(r, init=image))
            refused(lambda: model.generate(r, init=image))
            refused(lambda: model.generate_many(r, 2, init=image))
        elif undeclared == "decode":
            r = req.with_(latent=(0.5, -0.5))
            refused(lambda: model.resolve(r))
            refused(lambda: model.generate(r))
            refused(lambda: model.decode(np.zeros((1, 2), np.float32)))
            refused(lambda: model.prior_latents(self.seed, 1))
        elif undeclared == "redraw":
            r = req.redrawn_from(1, 7)
            refused(lambda: model.resolve(r))
            refused(lambda: model.generate(r))
        elif undeclared == "encode":
            refused(lambda: model.encode(np.zeros((1, *f.shape), np.uint8)))
        elif undeclared == "likelihood":
            refused(lambda: model.likelihood())
            refused(lambda: model.likelihood(limit=2))
        elif undeclared == "edits":
            refused(lambda: next(iter(model.debug_frames(req))))
        elif undeclared == "video":  # nothing to call: its images are single frames
            assert f.frames == 1 and f.frame_shape == f.shape
            assert {fr.frames for fr in model.sample(req)} == {1}
        elif undeclared == "preview_modes":
            assert model.preview_modes == ()
            refused(lambda: model.set_preview("linear"))
        else:
            raise AssertionError(f"no refusal check for {undeclared!r}")

    # --- the declared capabilities, one check each -----------------------------------------------
    def check_img2img(self, model, req, **_) -> None:
        f = model.image_format
        image = binary_pattern(f.frame_shape)  # a clip starts from one frame
        h = store_input(image)
        assert np.array_equal(load_input(h), image)
        r = req.with_(init_image=h, batch_size=2)
        if model.can("video"):  # the input is the clip's first frame; the model makes the rest
            clips = model.generate(r, init=image)
            assert clips.shape == (2, *f.shape)
            for clip in clips:
                assert np.array_equal(clip[:, : f.frame_width], image), "the clip starts with the input"
            assert not np.array_equal(clips[0], model.generate(req.with_(batch_size=2))[0]), "the input matters"
        else:
            shown = model.as_shown(image[None])
            expected = image if shown is None else shown[0][0]
            kept = model.generate(r.with_(strength=0.0), init=image)
            assert kept.shape == (2, *f.shape)
            for k in kept:
                assert np.array_equal(k, expected), "strength 0 keeps the input as the family shows it"
        frames = list(model.sample(r.with_(strength=0.5), init=load_input(h)))
        assert frames and [fr.final for fr in frames] == [False] * (len(frames) - 1) + [True]
        assert frames[-1].preview.shape == (2, *f.shape) and frames[-1].preview.dtype == np.uint8
        assert [fr.step for fr in frames] == list(range(1, len(frames) + 1))
        with pytest.raises(StudioError, match="pixels were not given"):
            model.generate(r)
        with pytest.raises(StudioError, match="do not match the hash"):
            model.generate(r, init=255 - image)

    def check_edits(self, model, req, **_) -> None:
        """Mid-run edits: stepping with a kept state and an edit gives what the edited request generates."""
        from studio.core.debugger import Debugger

        r = req.with_(steps=max(req.steps, 4), guidance=2.0)
        dbg = Debugger(model, r)
        dbg.step()
        dbg.step()
        dbg.rewind(1)
        edited = dbg.edit(guidance=4.0)
        assert edited.edits == ((1, "guidance", 4.0),)
        final = dbg.run()
        assert final.final and np.array_equal(final.preview, model.generate(edited))

    def check_preview_modes(self, model, req, **_) -> None:
        """Every preview mode shows every step and ends on the same image; the one in use comes first."""
        modes = model.preview_modes
        assert len(modes) >= 2 and len(set(modes)) == len(modes)
        r = req.with_(steps=max(req.steps, 4), batch_size=2)
        final = model.generate(r)
        shown: dict[tuple[str, int], list[bytes]] = {}
        for mode in modes:
            for every in (1, 3):
                model.set_preview(mode, every)
                assert model.preview_modes[0] == mode
                frames = list(model.sample(r))
                assert len(frames) == r.steps and np.array_equal(frames[-1].preview, final), (mode, every)
                shown[mode, every] = [f.preview.tobytes() for f in frames[:-1]]
        assert len({tuple(v) for v in shown.values()}) > 1, "the modes show the steps differently"
        for bad in (("no such mode", 1), (modes[0], 0), (modes[0], 1.5)):
            with pytest.raises(ValueError):
                model.set_preview(*bad)
        model.set_preview(modes[0])

    def check_video(self, model, req, **_) -> None:
        """Each image is a filmstrip of ``frames`` frames, every step's preview included."""
        from studio.core.clips import filmstrip, frames_of

        f = model.image_format
        assert f.frames > 1 and f.width == f.frames * f.frame_width and f.frame_shape == (f.height, f.frame_width,
                                                                                          f.channels)
        frames = list(model.sample(req.with_(batch_size=2)))
        assert {fr.frames for fr in frames} == {f.frames}
        clips = frames_of(frames[-1].preview, f.frames)
        assert clips.shape == (2, f.frames, *f.frame_shape)
        assert np.array_equal(filmstrip(clips), frames[-1].preview)
        assert len({clip.tobytes() for clip in clips[0]}) > 1, "the frames of a clip differ"

    def check_encode(self, model, req, **_) -> None:
        f = model.image_format
        images = np.random.default_rng(0).integers(0, 256, (3, *f.shape), dtype=np.uint8)
        z = model.encode(images)
        assert z.shape == (3, model.latent_dim) and z.dtype == np.float32 and np.isfinite(z).all()
        if model.can("decode"):
            back = model.decode(z)
            assert back.shape == (3, *f.shape) and back.dtype == np.uint8

    def check_decode(self, model, req, **_) -> None:
        d = model.latent_dim
        assert d > 0
        z = model.prior_latents(self.seed, 3, req.truncation)
        assert z.shape == (3, d) and z.dtype == np.float32
        assert np.array_equal(z[2], model.prior_latents(self.seed + 2, 1, req.truncation)[0])
        assert np.array_equal(model.decode(z), model.generate(req.with_(batch_size=3))), \
            "generating decodes the seeds' prior latents"
        one = req.with_(latent=tuple(float(v) for v in z[1]))
        image = model.generate(one)
        assert np.array_equal(image, model.decode(z[1:2]))
        assert np.array_equal(image, model.generate(one.with_(seed=self.seed + 40))), "the latent, not the seed"
        assert np.array_equal(model.generate(GenerationRequest.from_parameters(one.to_parameters())), image)
        with pytest.raises(RequestError, match=f"{d}-D latent"):
            model.resolve(req.with_(latent=(0.0,) * (d + 1)))
        with pytest.raises(RequestError):
            model.generate_many(one, 2)

    def check_redraw(self, model, req, **_) -> None:
        f = model.image_format
        position = (f.height // 2) * f.width + f.width // 3
        base = raster(model.generate(req))
        r = req.redrawn_from(position, 777)
        image = model.generate(r)
        again = raster(image)
        assert not np.array_equal(again[:, position:], base[:, position:]), "the rest is drawn again"
        assert np.array_equal(model.generate(GenerationRequest.from_parameters(r.to_parameters())), image), \
            "the redraws travel in the parameters"
        assert np.array_equal(again[:, :position], base[:, :position]), "every pixel before the position is kept"

    def check_likelihood(self, model, req, data_dir, **_) -> None:
        if model.image_format.shape != FMNIST_SHAPE:
            with pytest.raises(StudioError):  # a plain refusal, not a shape error from deep inside
                model.likelihood(limit=2)
        path = self.likelihood_checkpoint(data_dir / "checkpoints" / "contract-28px.safetensors")
        m = load_model(path.stem).likelihood(limit=8)
        assert m["settings"]["test_images"] == 8
        figures = {k: v for k, v in m.items() if isinstance(v, float)}
        assert any("nll" in k for k in figures) and all(np.isfinite(v) for v in figures.values()), m
