"""A resumed diffusion run takes exactly the steps an uninterrupted one takes: the data stream's
position and the random generators are saved with the weights (Fashion-MNIST and Shapes streams)."""
import pytest

from studio.core.families.diffusion.train import fashion_mnist_task, shapes_task
from tests.conftest import needs_fmnist
from tests.core.training.exact import FakeEncoder, assert_resume_is_exact


@needs_fmnist
@pytest.mark.parametrize("cut", ["stop", "checkpoint"])
def test_fashion_mnist_resumes_exactly(tmp_path, cut):
    # 40 images in batches of 16: two batches an epoch, so the cut falls inside the second epoch
    assert_resume_is_exact(lambda: fashion_mnist_task(FakeEncoder(), base_channels=8, batch_size=16, limit=40),
                           tmp_path, steps=6, cut_at=3, cut=cut)


def test_shapes_resumes_exactly(tmp_path):
    assert_resume_is_exact(lambda: shapes_task(FakeEncoder(), base_channels=8, batch_size=4, p_uncond=0.5),
                           tmp_path, steps=5, cut_at=2)
