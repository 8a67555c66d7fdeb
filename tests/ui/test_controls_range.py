"""Settings put back in the window (a PNG's, a gallery item's) arrive exactly as they were, or are refused
with a message and change nothing: the widgets cover each request field's whole range (issue 11, item 8)."""
from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.request import MAX_SEED, GenerationRequest
from studio.store.pngmeta import save_png
from studio.ui.app import build_window


@pytest.fixture
def window(qtbot, tiny_ckpt):
    w = build_window(preload=False)
    qtbot.addWidget(w)
    w.show()
    assert w.model_panel.select("diffusion", "tiny-diffusion")
    yield w
    w.latent.shutdown()
    w.store.close()


def saved_request(window, **changes) -> GenerationRequest:
    """Settings as the CLI would write them: a complete, valid request of the selected checkpoint."""
    return window.current_request().with_(prompt="an ankle boot", **changes)


def test_the_largest_seed_and_fine_decimals_round_trip_exactly(qtbot, window):
    req = saved_request(window, seed=MAX_SEED, guidance=3.14159, eta=0.123456, strength=0.000001, steps=1000,
                        top_p=0.000001, batch_size=16)
    assert window.apply_request(req)
    assert window.current_request() == req.normalized()  # what the family uses, exactly
    assert window.controls.seed.value() == 2**32 - 1


def test_a_png_made_with_a_seed_above_2_31_reproduces(qtbot, window, tmp_path):
    req = saved_request(window, seed=2**31 + 12345)
    png = save_png(tmp_path / "cli.png", np.zeros((12, 12, 1), np.uint8), req)
    assert window.load_png(png)
    assert window.current_request().seed == 2**31 + 12345


@pytest.mark.parametrize("changes, field", [({"guidance": math.nan}, "Guidance"), ({"steps": 10**9}, "Steps"),
                                            ({"seed": 2**32}, "Seed"), ({"seed": -1}, "Seed"),
                                            ({"guidance": math.inf}, "Guidance"),
                                            ({"guidance": 3.1234567}, "Guidance")])
def test_settings_out_of_range_are_refused_with_a_message_and_change_nothing(qtbot, window, changes, field):
    window.controls.seed.setValue(99)
    before, prompt = window.current_request(), window.prompt_panel.text()
    assert not window.apply_request(saved_request(window, **changes))
    assert window.last_message.startswith("These settings were not restored:") and field in window.last_message
    assert window.current_request() == before and window.prompt_panel.text() == prompt
    assert not window.controls.seed_lock.isChecked(), "not even the seed lock"


def test_a_png_with_absurd_steps_is_refused_and_changes_nothing(qtbot, window, tmp_path):
    before = window.current_request()
    png = save_png(tmp_path / "bad.png", np.zeros((12, 12, 1), np.uint8), saved_request(window, steps=10**9))
    assert not window.load_png(png)
    assert "Steps" in window.last_message and "1000" in window.last_message
    assert window.current_request() == before


def decimals(low: float, high: float) -> st.SearchStrategy[float]:
    """Numbers as a person or the CLI writes them: at most 6 decimals."""
    return st.decimals(min_value=Decimal(str(low)), max_value=Decimal(str(high)), places=6, allow_nan=False).map(float)


VALID = {"seed": st.integers(0, MAX_SEED), "steps": st.integers(1, 1000), "batch_size": st.integers(1, 16),
         "top_k": st.integers(0, 4096), "guidance": decimals(0, 30), "eta": decimals(0, 1),
         "truncation": decimals(0, 1), "temperature": decimals(0, 5), "top_p": decimals(0.000001, 1),
         "strength": decimals(0, 1)}
WILD_INT = st.one_of(st.integers(-2**40, 2**40), st.sampled_from([-1, 0, 2**31, 2**32, 2**32 - 1, 10**9]))
WILD_FLOAT = st.one_of(st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 30.000001, 1e-7]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), broken=st.sampled_from([None, *VALID]))
def test_any_request_is_applied_exactly_or_refused_unchanged(qtbot, window, data, broken):
    """A valid request with at most one field drawn from anywhere (NaN, huge, too fine)."""
    values = {name: data.draw(st.one_of(strategy, WILD_INT if name in ("seed", "steps", "batch_size", "top_k")
                                        else WILD_FLOAT) if name == broken else strategy, label=name)
              for name, strategy in VALID.items()}
    before = window.current_request()
    req = saved_request(window, **values)
    if window.apply_request(req):
        assert window.current_request() == req.normalized()  # what the family uses, exactly
    else:
        assert window.last_message.startswith("These settings were not restored:")
        assert broken is not None and window.current_request() == before
