"""The latent and training bridges speak the same JobEvents; the latent one on a tiny real GAN, and a
real tiny checkpoint through the generation bridge with the default loader."""
from __future__ import annotations

import numpy as np
import pytest

from studio.core.catalog import CATALOG
from studio.store.registry import load_model
from studio.workers.latent import Decoded, LatentController, Loaded
from studio.workers.training import TrainingController

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
