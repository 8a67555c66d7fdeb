"""The shared trainer on a tiny diffusion model and tiny synthetic data."""

import pytest
import torch

from studio.core import checkpoint
from studio.core.errors import TrainingError
from studio.core.families.diffusion.family import DiffusionFamily
from studio.core.families.diffusion.model import build, diffusion_loss
from studio.core.families.diffusion.schedule import ScheduleConfig
from studio.core.families.diffusion.unet import UNetConfig
from studio.core.training.trainer import TrainConfig, Trainer, TrainTask, state_path


def tiny_task(seed=0) -> TrainTask:
    torch.manual_seed(seed)
    config = {"unet": UNetConfig(image_size=8, base_channels=8, channel_mult=(1, 2), attention_levels=(),
                                 cond_dim=0, emb_dim=16).to_dict(),
              "schedule": ScheduleConfig().__dict__}
    model, schedule = build(config)
    # data: bright squares at one of four places, a distribution the model can learn quickly
    g = torch.Generator().manual_seed(seed)
    def batches():
        while True:
            x = -torch.ones(32, 1, 8, 8)
            for i, k in enumerate(torch.randint(0, 4, (32,), generator=g).tolist()):
                r, c = divmod(k, 2)
                x[i, :, r * 4:(r + 1) * 4, c * 4:(c + 1) * 4] = 1.0
            yield x, None
    return TrainTask("diffusion", model, config, lambda m, b: diffusion_loss(m, schedule, b[0], b[1]), batches())


def test_loss_goes_down_and_the_result_samples(tmp_path):
    out = tmp_path / "t.safetensors"
    trainer = Trainer(tiny_task(), TrainConfig(steps=200, lr=3e-3, warmup=20, log_every=50, precision="fp32",
                                               checkpoint_every=100, sample_every=10**9), out)
    events = list(trainer.run())
    losses = [e.metrics["loss"] for e in events if e.kind == "step"]
    assert losses[-1] < 0.6 * losses[0], losses
    assert [e.kind for e in events].count("checkpoint") == 1
    assert events[-1].kind == "done" and out.exists() and state_path(out).exists()
    card = checkpoint.read_card(out)
    assert card["training"]["steps_done"] == 200 and card["training"]["seconds"] > 0
    model = DiffusionFamily.from_checkpoint(out, encoder=None)
    img = model.generate(model.default_request().with_(steps=20))
    assert img.shape == (1, 8, 8, 1)


def test_resume_continues_where_it_stopped(tmp_path):
    out = tmp_path / "t.safetensors"
    cfg = TrainConfig(steps=40, precision="fp32", log_every=10, checkpoint_every=20, sample_every=10**9)
    # stop after the checkpoint at step 20, as if interrupted
    for ev in Trainer(tiny_task(), cfg, out).run():
        if ev.kind == "checkpoint":
            break
    resumed = Trainer(tiny_task(seed=1), cfg, out, resume=True)
    assert resumed.step == 20
    saved = checkpoint.load(state_path(out))
    for k, v in resumed.model.state_dict().items():
        assert torch.equal(v, saved.group("model")[k])
    steps = [e.step for e in resumed.run() if e.kind == "step"]
    assert steps == [30, 40]


def test_nan_loss_stops_with_a_message(tmp_path):
    task = tiny_task()
    task.loss = lambda m, b: m(b[0], torch.zeros(len(b[0]), dtype=torch.long)).mean() * float("nan")
    with pytest.raises(TrainingError, match="loss became nan at step 1"):
        list(Trainer(task, TrainConfig(steps=5, precision="fp32"), tmp_path / "n.safetensors").run())


def test_resume_refuses_another_architecture(tmp_path):
    out = tmp_path / "t.safetensors"
    cfg = TrainConfig(steps=2, precision="fp32", sample_every=10**9)
    list(Trainer(tiny_task(), cfg, out).run())
    other = tiny_task()
    other.config = {**other.config, "unet": {**other.config["unet"], "emb_dim": 32}}
    from studio.core.errors import CheckpointError
    with pytest.raises(CheckpointError, match="different architecture"):
        Trainer(other, cfg, out, resume=True)
