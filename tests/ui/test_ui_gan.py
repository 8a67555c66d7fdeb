"""The GAN in the real window: named attribute sliders, truncation, and the latent panels without an
encoder. Driven offscreen with pytest-qt on a tiny untrained checkpoint."""
from __future__ import annotations

import numpy as np
import pytest

from studio.core.families.gan.family import GANFamily
from studio.core.latent_space.family import prior_latents

from .jobs import is_kind, run

LONG = 60_000


@pytest.fixture
def window(latent_window, tiny_gan):
    return latent_window("gan", "tiny-gan")


def test_attribute_sliders_are_named_and_move_the_latent_along_their_direction(qtbot, window, tiny_gan):
    family = GANFamily.from_checkpoint(tiny_gan)
    panel = window.latent.panel
    assert [panel.rows.itemAtPosition(k, 1).widget().text() for k in range(4)] == ["smile", "glasses", "PC1", "PC2"]
    assert "attributes: smile, glasses" in panel.info.text() and "InterFaceGAN" in panel.info.toolTip()
    assert not panel.original.isVisible(), "a GAN has no encoder: no drop zone"
    assert window.controls.truncation.isVisible() and not window.controls.steps.isVisible()
    expected = family.basis.directions[0] * 2.0
    panel.sliders[0].setValue(200)  # smile +2
    qtbot.waitUntil(lambda: window.latent.last_z is not None and np.allclose(window.latent.last_z, expected,
                                                                             atol=1e-5), timeout=LONG)
    assert np.array_equal(window.latent.last_image, family.decode(expected)[0])
    assert window.latent.map.scatter.data.size == 0, "no encoder, so no encoded points on the map"
    assert not window.latent.map.show_points.isVisible()
    qtbot.waitUntil(lambda: window.latent.map.image.image is not None, timeout=LONG)


def test_generate_with_truncation_and_the_sliders_follow_the_shrunk_vector(qtbot, window, tiny_gan):
    family = GANFamily.from_checkpoint(tiny_gan)
    window.controls.seed_lock.setChecked(True)
    window.controls.seed.setValue(21)
    window.controls.truncation.setValue(0.5)
    result = run(qtbot, window, window.controls.generate_button.click, LONG)
    z = prior_latents(21, 1, 8)[0] * 0.5
    assert result.request.truncation == 0.5
    assert np.array_equal(result.images[0], family.decode(z)[0])
    qtbot.waitUntil(lambda: np.allclose(window.latent.panel.z(), z, atol=1e-4), timeout=LONG)


def test_training_a_tiny_gan_in_the_studio_plots_both_players_and_lists_the_result(qtbot, window, data_dir):
    panel = window.training_panel
    panel.recipe.setCurrentText("GAN on Faces")
    panel.steps.setValue(30)
    panel.name.setText("studio-trained")
    panel.extra_options = {"width": 8, "limit": 64, "batch_size": 16, "z_dim": 8}
    with qtbot.waitSignal(window.training.event, check_params_cb=is_kind("result"), timeout=LONG) as blocker:
        panel.start_button.click()
    assert blocker.args[0].result.endswith("studio-trained.safetensors")
    qtbot.waitUntil(lambda: not window.training.busy, timeout=LONG)
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(panel.curves)
    assert len(panel.series["d_loss"][0]) >= 10, "a point per logged step"
    assert panel.samples.image() is not None, "the fixed-noise grid is shown"
    assert (data_dir / "checkpoints" / "studio-trained.safetensors").is_file()
    assert window.model_panel.select("gan", "studio-trained"), "the new model is listed"


def test_stopping_training_leaves_a_resumable_state(qtbot, window, data_dir):
    panel = window.training_panel
    panel.recipe.setCurrentText("GAN on Faces")
    panel.steps.setValue(5000)
    panel.name.setText("stopped")
    panel.extra_options = {"width": 8, "limit": 64, "batch_size": 16, "z_dim": 8}
    with qtbot.waitSignal(window.training.event, timeout=LONG):
        panel.start_button.click()
    with qtbot.waitSignal(window.training.event, check_params_cb=is_kind("cancelled"), timeout=LONG) as blocker:
        panel.stop_button.click()
    assert blocker.args[0].message.startswith("Stopped at step") and "state saved (Resume continues)" in \
        blocker.args[0].message
    qtbot.waitUntil(lambda: not window.training.busy, timeout=LONG)
    assert (data_dir / "checkpoints" / "stopped.state.safetensors").is_file()
    assert not (data_dir / "checkpoints" / "stopped.safetensors").exists()
