"""The latent and training bridges speak the same JobEvents; the latent one on a tiny real GAN, and a
real tiny checkpoint through the generation bridge with the default loader."""
from __future__ import annotations

import numpy as np
import pytest

from studio.core.catalog import CATALOG
from studio.core.checkpoint import read_card
from studio.core.training.paths import state_path
from studio.store.registry import load_model
from studio.workers.latent import Decoded, LatentController, Loaded
from studio.workers.training import TrainingController
from tests.conftest import single_thread

from .conftest import WAIT, kinds

LONG = 60_000  # ms: loading torch and a real checkpoint


def kind_is(kind: str):
    return lambda ev: ev.kind == kind


@pytest.fixture
def latent(qtbot):
    c = LatentController()
    yield c
    c.shutdown()


def test_latent_requests_come_back_as_their_kinds(qtbot, latent, tiny_gan):
    family = load_model("tiny-gan")
    with qtbot.waitSignal(latent.event, check_params_cb=kind_is("loaded"), timeout=LONG) as blocker:
        latent.load("tiny-gan")
    loaded: Loaded = blocker.args[0].result
    assert loaded.checkpoint == "tiny-gan" and loaded.model.can("decode")
    z = np.linspace(-1, 1, 8).astype(np.float32)
    with qtbot.waitSignal(latent.event, check_params_cb=kind_is("decoded"), timeout=WAIT) as blocker:
        latent.request("decode", z, "")
    got: Decoded = blocker.args[0].result
    assert np.array_equal(got.image, family.decode(z)[0])
    with qtbot.waitSignal(latent.event, check_params_cb=kind_is("prior"), timeout=WAIT) as blocker:
        latent.request("prior", 21, 0.5, tag="follow")
    assert blocker.args[0].tag == "follow"
    assert np.allclose(blocker.args[0].result, family.prior_latents(21, 1, 0.5)[0])
    # A GAN declares no encoder: the family's own refusal, as an error event.
    with qtbot.waitSignal(latent.event, check_params_cb=kind_is("error"), timeout=WAIT) as blocker:
        latent.request("encode", "unused.png", "", tag="panel")
    assert blocker.args[0].message == CATALOG["gan"].refusal("encode") and blocker.args[0].tag == "panel"


def test_a_model_without_a_latent_is_refused_with_the_catalogs_message(qtbot, latent, tiny_ckpt):
    with qtbot.waitSignal(latent.event, check_params_cb=kind_is("error"), timeout=LONG) as blocker:
        latent.load("tiny-diffusion")
    assert blocker.args[0].message == CATALOG["diffusion"].refusal("decode")


def test_the_generation_bridge_resolves_with_the_real_loader(qtbot, tiny_gan, collect):
    from studio.core.request import GenerationRequest
    from studio.workers.generation import GenerationController

    c = GenerationController()
    try:
        events = collect(c.event)
        with qtbot.waitSignal(c.event, check_params_cb=kind_is("result"), timeout=LONG) as blocker:
            c.submit(GenerationRequest(family="gan", checkpoint="tiny-gan", seed=4))
        result = blocker.args[0].result
        family = load_model("tiny-gan")
        assert result.request.checkpoint_hash == family.checkpoint.sha256
        assert (result.request.width, result.request.height) == (12, 12)
        assert np.array_equal(result.images, family.generate(result.request))
        assert kinds(events)[:2] == ["loading", "started"]
    finally:
        c.shutdown()


def test_training_errors_arrive_as_an_error_event(qtbot, data_dir):
    c = TrainingController()
    try:
        with qtbot.waitSignal(c.event, check_params_cb=kind_is("error"), timeout=LONG) as blocker:
            c.start("gan", "no-such-data", str(data_dir / "x.safetensors"), 10)
        assert "no-such-data" in blocker.args[0].message
        qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    finally:
        c.shutdown()


@pytest.fixture
def tiny_gan_training(monkeypatch):
    """The real GAN task, tiny, on one thread and without the slow shipped extras; ``stop_at`` calls the
    controller's stop from inside that step, as a click landing mid-step does."""

    from studio.core.families import get_family
    from studio.core.families.gan.train import gan_task

    seen = {"steps": 0}

    def train_task(cls, dataset, **options):
        task = gan_task(dataset, **options)
        task.finalize = None
        step = task.step

        def counted(*args):
            seen["steps"] += 1
            if seen["steps"] == seen.get("stop_at"):
                seen["controller"].stop()
            return step(*args)

        task.step = counted
        if seen.get("stop_at") == 0:  # Stop clicked while the task is being built
            seen["controller"].stop()
        return task

    monkeypatch.setattr(get_family("gan"), "train_task", classmethod(train_task))
    with single_thread():
        yield seen


def test_stop_takes_effect_within_one_step_says_so_and_resume_finishes(qtbot, data_dir, tiny_gan_training):
    out = str(data_dir / "checkpoints" / "g.safetensors")
    options = {"width": 8, "z_dim": 8, "batch_size": 8, "limit": 16}
    settings = {"log_every": 20, "sample_every": 10**9, "checkpoint_every": 10**9, "precision": "fp32"}
    c = TrainingController()
    tiny_gan_training.update(controller=c, stop_at=7)
    try:
        with qtbot.waitSignal(c.event, check_params_cb=kind_is("cancelled"), timeout=LONG) as blocker:
            c.start("gan", "faces", out, 40, options, settings)
        # Asked during step 7, while the next logged step was 20: it stops right after 7.
        assert blocker.args[0].message == "Stopped at step 7; state saved (Resume continues)."
        qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
        assert state_path(out).is_file() and not (data_dir / "checkpoints" / "g.safetensors").exists()

        events = []
        c.event.connect(events.append)
        with qtbot.waitSignal(c.event, check_params_cb=kind_is("result"), timeout=LONG) as blocker:
            c.start("gan", "faces", out, 40, options, settings, resume=True)
        assert blocker.args[0].result == out
        assert [(e.kind, e.step) for e in events if e.kind == "started"] == [("started", 7)]
        assert read_card(out)["training"]["steps_done"] == 40
        assert tiny_gan_training["steps"] == 40, "7 steps, then the 33 left"
        qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    finally:
        c.shutdown()


def test_a_stop_before_the_first_step_saves_the_state_a_fresh_run_starts_from(qtbot, data_dir, tiny_gan_training):
    import torch

    from studio.core.checkpoint import load

    out = str(data_dir / "checkpoints" / "g0.safetensors")
    c = TrainingController()
    tiny_gan_training.update(controller=c, stop_at=0)
    try:
        with qtbot.waitSignal(c.event, check_params_cb=kind_is("cancelled"), timeout=LONG) as blocker:
            c.start("gan", "faces", out, 40, {"width": 8, "z_dim": 8, "batch_size": 8, "limit": 16},
                    {"sample_every": 10**9, "seed": 3})
        assert blocker.args[0].message == "Stopped at step 0; state saved (Resume continues)."
        qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    finally:
        c.shutdown()
    saved = load(state_path(out))
    assert saved.extra["step"] == 0 and tiny_gan_training["steps"] == 0
    # seeded as a fresh run's first step would be, so resuming it is the same as starting afresh
    assert torch.equal(saved.group("rng")["torch"], torch.Generator().manual_seed(3).get_state())
