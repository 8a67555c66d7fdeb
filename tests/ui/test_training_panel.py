"""The Training dock's Stop and Resume, with real clicks in the real window: Stop takes effect after
the step in progress and says so (not as an error); Resume, offered only while the chosen name has a
saved state, continues from it and finishes at the requested step count. A tiny VAE on Fashion-MNIST."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from studio.core.checkpoint import read_card
from studio.core.training.paths import state_path
from tests.conftest import needs_fmnist

from .jobs import is_kind

LONG = 60_000
pytestmark = needs_fmnist


@pytest.fixture
def window(latent_window, tiny_vae):
    return latent_window("vae", "tiny-vae")


@pytest.fixture
def gated_vae_training(monkeypatch):
    """The real VAE task, whose step 5 waits for ``gate``: the test clicks Stop while it runs."""
    from studio.core.families import get_family
    from studio.core.families.vae.train import fashion_mnist_task

    gate, steps = threading.Event(), [0]

    def train_task(cls, dataset, **options):
        task = fashion_mnist_task(**options)
        loss = task.loss

        def gated(m, batch):
            steps[0] += 1
            if steps[0] == 5:
                gate.wait(LONG / 1000)
            return loss(m, batch)

        task.loss = gated
        return task

    monkeypatch.setattr(get_family("vae"), "train_task", classmethod(train_task))
    return gate, steps


def test_stop_then_resume_finishes_at_the_requested_step_count(qtbot, window, data_dir, gated_vae_training,
                                                               monkeypatch):
    gate, steps = gated_vae_training
    said = []
    monkeypatch.setattr(window, "notify", lambda message, error=False: said.append((message, error)))
    panel = window.training_panel
    panel.recipe.setCurrentText("VAE (2-D latent) on Fashion-MNIST")
    panel.steps.setValue(30)
    panel.name.setText("resumable")
    panel.extra_options = {"limit": 64, "batch_size": 16, "hidden": (4, 8), "fc_dim": 16}
    out = data_dir / "checkpoints" / "resumable.safetensors"
    assert not panel.resume_button.isEnabled(), "nothing to resume yet"

    with qtbot.waitSignal(window.training.event, check_params_cb=lambda ev: ev.kind == "progress" and ev.step == 4,
                          timeout=LONG):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert not panel.resume_button.isEnabled(), "not while a run is going"
    with qtbot.waitSignal(window.training.event, check_params_cb=is_kind("cancelled"), timeout=LONG) as blocker:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
        gate.set()  # step 5 ends; the stop takes effect before step 6
    stopped = "Stopped at step 5; state saved (Resume continues)."
    assert blocker.args[0].message == stopped
    qtbot.waitUntil(lambda: not window.training.busy, timeout=LONG)
    assert panel.status.text() == stopped and (stopped, False) in said, "the user's own Stop is no error"
    assert state_path(out).is_file() and not out.exists()
    assert panel.resume_button.isEnabled() and panel.start_button.isEnabled()
    panel.name.setText("another-name")
    assert not panel.resume_button.isEnabled(), "that name has no saved state"
    panel.name.setText("resumable")
    assert panel.resume_button.isEnabled()

    with qtbot.waitSignal(window.training.event, check_params_cb=is_kind("result"), timeout=LONG) as blocker:
        qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].result == str(out)
    qtbot.waitUntil(lambda: not window.training.busy, timeout=LONG)
    assert read_card(out)["training"]["steps_done"] == 30
    assert steps[0] == 30, "5 steps, then the 25 left: none done twice"
    # The curve goes on where it stopped (step 5's point, logged as Stop came, is not shown).
    assert panel.series["loss"][0] == [1, 2, 3, 4, *range(6, 31)]
    assert panel.status.text().startswith("Done: 30 steps")
