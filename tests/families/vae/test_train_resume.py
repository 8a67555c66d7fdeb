"""A resumed VAE run takes exactly the steps an uninterrupted one takes: the captioned stream, the
dynamic binarisation's draws and the reparameterisation noise all continue where they were."""
import pytest

from studio.core.families.vae.train import fashion_mnist_task
from tests.conftest import needs_fmnist
from tests.core.training.exact import FakeEncoder, assert_resume_is_exact


@needs_fmnist
@pytest.mark.parametrize("captions", [False, True])
def test_vae_resumes_exactly(tmp_path, captions):
    assert_resume_is_exact(lambda: fashion_mnist_task(FakeEncoder() if captions else None, captions=captions,
                                                      latent_dim=2, batch_size=16, limit=40, hidden=(4, 8),
                                                      fc_dim=16),
                           tmp_path, steps=6, cut_at=3, cut="checkpoint" if captions else "stop")
