"""Resumed PixelCNN, VQ-VAE and image-transformer runs take exactly the steps uninterrupted ones take
(the transformer's stream is its tokenizer mapped over a resumable binarised stream)."""
import torch

from studio.core import checkpoint
from studio.core.families.autoregressive.train_pixelcnn import pixelcnn_task
from studio.core.families.autoregressive.train_transformer import TOKENIZER_FAMILY, transformer_task, vqvae_task
from studio.core.families.autoregressive.vqvae import VQVAE, VQVAEConfig
from tests.conftest import needs_fmnist
from tests.core.training.exact import FakeEncoder, assert_resume_is_exact

pytestmark = needs_fmnist


def test_pixelcnn_resumes_exactly(tmp_path):
    assert_resume_is_exact(lambda: pixelcnn_task(None, captions=False, channels=4, layers=1, head=4, batch_size=8,
                                                 limit=20), tmp_path, steps=6, cut_at=3)


def test_vqvae_resumes_exactly(tmp_path):
    assert_resume_is_exact(lambda: vqvae_task(codes=8, code_dim=4, hidden=8, batch_size=8, limit=20),
                           tmp_path, steps=6, cut_at=3, ema_decay=0.0)


def test_transformer_resumes_exactly(tmp_path):
    torch.manual_seed(0)
    cfg = VQVAEConfig(hidden=8, codes=8, code_dim=4)
    tokenizer = checkpoint.save(tmp_path / "tok.safetensors", family=TOKENIZER_FAMILY, config={"vqvae": cfg.to_dict()},
                                tensors={f"ema.{k}": v for k, v in VQVAE(cfg).state_dict().items()})
    assert_resume_is_exact(lambda: transformer_task(str(tokenizer), FakeEncoder(), dim=8, layers=1, heads=2,
                                                    prefix=2, batch_size=8, limit=20),
                           tmp_path, steps=6, cut_at=3, cut="checkpoint")
