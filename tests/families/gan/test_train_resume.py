"""A resumed GAN run (two optimisers, the trainer's custom step, spectral-norm power iterations) takes
exactly the steps an uninterrupted one takes."""
from studio.core.families.gan.train import gan_task
from tests.core.training.exact import assert_resume_is_exact


def test_gan_resumes_exactly(tmp_path):
    assert_resume_is_exact(lambda: gan_task("faces", batch_size=8, limit=24, width=8, z_dim=8),
                           tmp_path, steps=6, cut_at=3)
