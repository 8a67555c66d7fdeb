"""The step debugger: stepping gives the run's frames, edits take effect from their step and are recorded
so the request reproduces the pixels, rewinds branch from kept (or replayed) states."""
import numpy as np
import pytest

from studio.core.debugger import Debugger
from studio.core.errors import RequestError, StudioError
from studio.core.families.diffusion.family import DiffusionFamily
from studio.core.prompt.encoder import shared_encoder
from studio.core.request import GenerationRequest


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from tests.conftest import make_tiny_checkpoint

    path = make_tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.safetensors", tokens=True)
    return DiffusionFamily.from_checkpoint(path, encoder=shared_encoder())


@pytest.fixture(scope="module")
def gan(tmp_path_factory):
    from studio.store.registry import load_model
    from tests.conftest import make_tiny_gan

    return load_model(str(make_tiny_gan(tmp_path_factory.mktemp("gan") / "tiny-gan.safetensors")))


def base(model, **kw) -> GenerationRequest:
    return model.default_request().with_(prompt="a red circle", steps=6, seed=3, batch_size=2, **kw)


def test_stepping_through_gives_the_frames_of_a_plain_run(model):
    req = base(model, sampler="ddpm")  # stochastic: its noise draws must line up too
    plain = list(model.sample(req))
    dbg = Debugger(model, req)
    stepped = [dbg.step() for _ in range(6)]
    assert dbg.finished and dbg.step() is None
    assert [f.step for f in stepped] == list(range(1, 7))
    for a, b in zip(plain, stepped):
        assert np.array_equal(a.preview, b.preview)


@pytest.mark.parametrize("edit", [{"guidance": 7.5}, {"prompt": "a blue square"},
                                  {"negative_prompt": "red"}, {"sampler": "euler"}, {"sampler": "ddpm"},
                                  {"sampler": "dpm++2m-karras", "guidance": 1.0}])
def test_an_edit_changes_the_rest_of_the_run_and_the_request_reproduces_it(model, edit):
    req = base(model, sampler="dpm++2m")
    plain = list(model.sample(req))
    dbg = Debugger(model, req)
    for _ in range(3):
        dbg.step()
    new = dbg.edit(**edit)
    assert new.edits == tuple((3, name, edit[name]) for name in sorted(edit))
    final = dbg.run()
    assert [f.step for f in dbg.frames] == list(range(1, 7))
    for a, b in zip(plain[:3], dbg.frames[:3]):  # the steps before the edit are the plain run's
        assert np.array_equal(a.preview, b.preview)
    assert not np.array_equal(final.preview, plain[-1].preview), "the edit changes what comes after it"
    # What the gallery stores: the request alone, through its text form, gives the same pixels.
    again = GenerationRequest.from_parameters(new.to_parameters())
    assert again == new
    assert np.array_equal(model.generate(again), final.preview)


def test_rewind_and_branch_keeps_the_earlier_edits_and_drops_the_later(model):
    dbg = Debugger(model, base(model))
    dbg.step()
    dbg.edit(guidance=5.0)
    for _ in range(3):
        dbg.step()
    dbg.edit(prompt="a green triangle")  # at step 4
    dbg.run()
    first_branch = dbg.frames[-1].preview
    assert dbg.rewind(2) is dbg.frames[1]
    req = dbg.edit(guidance=1.0)  # at step 2: the edit at 4 belonged to the old branch
    assert req.edits == ((1, "guidance", 5.0), (2, "guidance", 1.0))
    assert len(dbg.frames) == 2
    final = dbg.run()
    assert not np.array_equal(final.preview, first_branch)
    assert np.array_equal(model.generate(req), final.preview)


def test_a_branch_from_a_dropped_state_replays_to_the_same_pixels(model):
    kept, dropped = Debugger(model, base(model)), Debugger(model, base(model), max_state_bytes=0)
    for dbg in (kept, dropped):
        dbg.run()
        dbg.rewind(2)
        dbg.edit(sampler="heun")
    assert all(f.state is None for f in dropped.frames) and kept.frames[1].state is not None
    assert np.array_equal(kept.run().preview, dropped.run().preview)


def test_rewind_without_edit_replays_the_kept_frames(model):
    dbg = Debugger(model, base(model))
    dbg.run()
    frames = list(dbg.frames)
    dbg.rewind(1)
    assert dbg.position == 1 and dbg.step() is frames[1]
    with pytest.raises(StudioError, match="cannot go to step 9"):
        dbg.rewind(9)


def test_an_edit_back_to_the_running_value_is_no_edit(model):
    dbg = Debugger(model, base(model, guidance=3.0))
    dbg.step()
    assert dbg.edit(guidance=3.0).edits == ()
    dbg.edit(guidance=4.0)
    assert dbg.edit(guidance=3.0).edits == ()  # undone at the same step


def test_edits_are_refused_where_they_cannot_apply(model, gan):
    dbg = Debugger(model, base(model))
    with pytest.raises(StudioError, match="pause after step 1"):
        dbg.edit(guidance=2.0)  # nothing has run yet: change the settings themselves
    dbg.step()
    with pytest.raises(StudioError, match="seed cannot change mid-run"):
        dbg.edit(seed=4)
    with pytest.raises(RequestError, match="samples with"):
        dbg.edit(sampler="cached")
    with pytest.raises(RequestError, match="Guidance scale"):
        dbg.edit(guidance=99.0)
    # A family without the capability pauses, steps and rewinds, but takes no edits.
    one = Debugger(gan, gan.default_request())
    assert one.run().final and not one.can_edit
    with pytest.raises(StudioError, match="cannot change its settings mid-run"):
        one.edit(guidance=2.0)
    # An edit of a setting the family does not read goes with the setting, as guidance does on a GAN.
    assert gan.resolve(gan.default_request().with_(edits=((1, "guidance", 2.0),))).edits == ()


def test_a_family_that_reads_the_setting_but_cannot_edit_refuses_the_request(tmp_path):
    from studio.store.registry import load_model
    from tests.conftest import make_tiny_pixelcnn

    ar = load_model(str(make_tiny_pixelcnn(tmp_path / "tiny-pixelcnn.safetensors")))
    with pytest.raises(StudioError, match="cannot change its settings mid-run"):
        ar.resolve(ar.default_request().with_(prompt="a bag", edits=((1, "prompt", "a coat"),)))


def test_states_are_kept_newest_first_within_the_bound(model):
    one = Debugger(model, base(model)).run().state.nbytes  # every step's state has the same size
    dbg = Debugger(model, base(model), max_state_bytes=2 * one)
    dbg.run()
    assert [f.state is not None for f in dbg.frames] == [False] * 4 + [True] * 2
    dbg.rewind(5)
    dbg.edit(guidance=6.0)  # the branch drops step 6 and its state: room for the new one
    dbg.run()
    assert [f.state is not None for f in dbg.frames] == [False] * 4 + [True] * 2
