"""StudioSession, the window's decisions without widgets: gallery writes and input images off the GUI
thread, restored settings (pinned hash, redraws), the blend sweep."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from studio.core.catalog import CATALOG
from studio.store.gallery import GalleryStore
from studio.store.inputs import load_input
from studio.workers.session import StudioSession

from .conftest import WAIT, FakeFamily, Loader, make_request


@pytest.fixture
def session(qtbot, data_dir, controller):
    made = []

    def make(**models: FakeFamily) -> StudioSession:
        s = StudioSession(GalleryStore(data_dir / "gallery"), controller(Loader(**models)))
        made.append(s)
        return s

    yield make
    for s in made:
        s.shutdown()
        s.store.close()


def test_gallery_writes_happen_off_the_gui_thread(qtbot, session, monkeypatch):
    s = session(fake=FakeFamily(sha="00000000000000ff"))
    add, threads = s.store.add, []

    def recording_add(*args, **kwargs):
        threads.append(threading.get_ident())
        return add(*args, **kwargs)

    monkeypatch.setattr(s.store, "add", recording_add)
    with qtbot.waitSignal(s.saved, timeout=WAIT) as blocker:
        job_id = s.submit(make_request(steps=2, batch_size=2, prompt="two"))
    items = blocker.args[0]
    assert len(items) == 2 and threads and threading.get_ident() not in threads
    assert s.last_result is not None and s.last_result.job_id == job_id
    stored = s.store.items("two")
    assert len(stored) == 2 and {i.request for i in stored} == {s.last_result.request}
    assert stored[0].request.checkpoint_hash == "00000000000000ff" and stored[0].request.width == 4, \
        "the gallery keeps the resolved request"


def test_a_gallery_write_that_fails_is_said(qtbot, session, monkeypatch):
    s = session(fake=FakeFamily())

    def broken_add(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(s.store, "add", broken_add)
    with qtbot.waitSignal(s.message, timeout=WAIT, check_params_cb=lambda text, error: error) as blocker:
        s.submit(make_request(steps=1))
    assert "could not be saved" in blocker.args[0] and "disk full" in blocker.args[0]


def test_an_input_image_is_fitted_to_the_loaded_model_off_the_gui_thread(qtbot, session, tmp_path):
    s = session(fake=FakeFamily(size=6))
    path = tmp_path / "wide.png"
    Image.fromarray(np.full((10, 20, 3), 40, np.uint8)).save(path)
    with qtbot.waitSignal(s.inputChanged, timeout=WAIT) as blocker:
        assert s.set_input_image(str(path), "fake", CATALOG["diffusion"])
    got = blocker.args[0]
    assert got.image.shape == (6, 6, 1), "the model's image_format decides the size and channels"
    assert got.name == "wide.png" and "padded to a square" in got.note
    assert np.array_equal(load_input(got.hash), got.image)
    assert s.complete(make_request()).init_image == got.hash
    assert s.complete(make_request().with_(family="gan")).init_image == "", "families without img2img"
    with qtbot.waitSignal(s.message, timeout=WAIT) as blocker:
        s.set_input_image(str(tmp_path / "missing.png"), "fake", CATALOG["diffusion"])
    assert blocker.args[1] and "missing.png" in blocker.args[0]
    s.clear_input()
    assert s.input is None and s.complete(make_request()).init_image == ""


def test_families_without_img2img_are_refused_at_once(qtbot, session, tmp_path):
    s = session(fake=FakeFamily())
    messages = []
    s.message.connect(lambda text, error: messages.append((text, error)))
    assert not s.set_input_image(str(tmp_path / "x.png"), "fake", CATALOG["vae"])
    assert messages == [(CATALOG["vae"].refusal("img2img"), True)]


def test_restored_settings_pin_their_hash_and_redraws_while_their_seed_is_kept(qtbot, session):
    s = session(fake=FakeFamily())
    saved = make_request(family="autoregressive", checkpoint="ar", checkpoint_hash="abababababababab", seed=5,
                         redraws=((7, 99),))
    s.restore(saved)
    same = s.complete(make_request(family="autoregressive", checkpoint="ar", seed=5))
    assert same.redraws == ((7, 99),) and same.checkpoint_hash == "abababababababab"
    assert s.complete(make_request(family="autoregressive", checkpoint="ar", seed=6)).redraws == ()
    assert s.complete(make_request(family="diffusion", checkpoint="ar", seed=5)).redraws == (), \
        "only families that declare redraw get them"
    assert s.complete(make_request(checkpoint="other")).checkpoint_hash == ""


def test_redraw_needs_a_result_of_a_family_that_can(qtbot, session):
    s = session(fake=FakeFamily())
    assert s.redraw_after(0, 1, 1) is None and s.redraw_hint() == ""
    with qtbot.waitSignal(s.saved, timeout=WAIT):
        s.submit(make_request(steps=1))
    assert s.redraw_hint() == "" and s.redraw_after(0, 1, 1) is None, "diffusion does not draw in raster order"


def test_a_sweep_collects_its_images_in_order(qtbot, session):
    s = session(fake=FakeFamily())
    progress = []
    s.sweepProgress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(s.sweepFinished, timeout=WAIT) as blocker:
        ids = s.sweep(make_request(steps=2, seed=3), ["a", "b", "c"])
    assert len(ids) == 3 and progress == [(1, 3), (2, 3), (3, 3)]
    assert len(blocker.args[0]) == 3 and all(images.shape == (1, 4, 4, 1) for images in blocker.args[0])
    qtbot.waitUntil(lambda: len(s.store.items()) == 3, timeout=WAIT)
    assert [i.request.prompt for i in s.store.items()] == ["c", "b", "a"]  # newest first
    assert {i.request.seed for i in s.store.items()} == {3}


def test_no_checkpoint_is_a_message_not_an_exception(qtbot, session):
    s = session(fake=FakeFamily())
    with qtbot.waitSignal(s.message, timeout=WAIT) as blocker:
        assert s.submit(None) is None
    assert "No checkpoint is selected" in blocker.args[0]
    with qtbot.waitSignal(s.message, timeout=WAIT) as blocker:
        assert s.submit(make_request(steps=0)) is None
    assert "Steps must be between" in blocker.args[0]
