"""The shared trainer on a tiny diffusion model and tiny synthetic data."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.core import checkpoint
from studio.core.denoising.schedule import ScheduleConfig
from studio.core.denoising.unet import UNetConfig
from studio.core.errors import TrainingError
from studio.core.families.diffusion.family import DiffusionFamily
from studio.core.families.diffusion.model import build, diffusion_loss
from studio.core.training.trainer import TrainConfig, Trainer, TrainTask, state_path


@pytest.fixture(autouse=True)
def _one_thread():
    from tests.core.training.exact import one_thread

    with one_thread():
        yield


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


# --- exact resume, stopping, and never saving NaN (issue 11, items 9, 11, 13) ---------------------
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    """A plain generator as the data stream: replayed to its saved position on resume."""
    from tests.core.training.exact import assert_resume_is_exact

    assert_resume_is_exact(tiny_task, tmp_path, steps=8, cut_at=5, lr=3e-3)
    assert_resume_is_exact(tiny_task, tmp_path / "checkpointed", steps=8, cut_at=4, cut="checkpoint", lr=3e-3)


def test_stop_takes_effect_within_one_step_and_saves_the_state(tmp_path):
    out = tmp_path / "s.safetensors"
    task = tiny_task()
    asked = {"stop": False}
    loss = task.loss

    def stopping_loss(m, b):
        asked["stop"] = asked["stop"] or trainer.step + 1 == 7  # asked during step 7 of 40
        return loss(m, b)

    task.loss = stopping_loss
    trainer = Trainer(task, TrainConfig(steps=40, precision="fp32", log_every=20, sample_every=10**9,
                                        checkpoint_every=10**9), out)
    events = list(trainer.run(stop=lambda: asked["stop"]))
    assert [(e.kind, e.step) for e in events] == [("stopped", 7)]
    assert events[0].message == "Stopped at step 7; state saved (Resume continues)."
    assert events[0].path == str(state_path(out)) and checkpoint.load(state_path(out)).extra["step"] == 7
    assert not out.exists()
    assert Trainer(tiny_task(), trainer.cfg, out, resume=True).step == 7


def _sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@settings(max_examples=12, deadline=None)
@given(where=st.sampled_from(["model", "ema", "optim"]), value=st.sampled_from([math.nan, math.inf, -math.inf]),
       when=st.sampled_from(["checkpoint", "end"]))
def test_a_non_finite_tensor_is_never_saved_over_the_last_good_state(tmp_path_factory, where, value, when):
    out = tmp_path_factory.mktemp("nan") / "n.safetensors"
    poison_at = 10 if when == "checkpoint" else 12  # the second periodic save, or the last step's save
    trainer = Trainer(tiny_task(), TrainConfig(steps=12, precision="fp32", log_every=1, sample_every=10**9,
                                               checkpoint_every=5), out)
    param = next(trainer.model.parameters())

    def poison(opt, args, kwargs):  # right after the optimiser step, before the save
        if trainer.step + 1 != poison_at:
            return
        with torch.no_grad():
            if where == "model":
                param.view(-1)[0] = value
            elif where == "ema":
                next(trainer.ema.model.parameters()).view(-1)[0] = value
            else:
                opt.state[param]["exp_avg"].view(-1)[0] = value

    trainer.opts[0].register_step_post_hook(poison)
    good = None
    with pytest.raises(TrainingError) as caught:
        for ev in trainer.run():
            if ev.kind == "checkpoint":
                good, good_step = _sha(state_path(out)), ev.step
    assert good_step == {10: 5, 12: 10}[poison_at]  # the save before the poisoned one
    what = {"model": "the weight", "ema": "the EMA weight", "optim": "the optimiser state"}[where]
    assert str(caught.value).startswith(f"Training stopped at step {poison_at}: {what} ")
    assert "holds NaN or infinite values, so it was not saved and n.state.safetensors still holds the last good " \
           f"state (step {good_step}), which --resume continues" in str(caught.value)
    assert _sha(state_path(out)) == good, "the last good state is untouched"
    assert not out.exists(), "no shipped file with broken weights"
    resumed = Trainer(tiny_task(), trainer.cfg, out, resume=True)
    assert resumed.step == good_step and all(torch.isfinite(p).all() for p in resumed.model.parameters())


def test_a_nan_gradient_under_a_finite_loss_stops_before_the_weights_change(tmp_path):
    out = tmp_path / "g.safetensors"
    trainer = Trainer(tiny_task(), TrainConfig(steps=20, precision="fp32", log_every=1, sample_every=10**9,
                                               checkpoint_every=5), out)
    param = next(trainer.model.parameters())
    param.register_hook(lambda g: g * math.nan if trainer.step + 1 == 10 else g)
    good = None
    with pytest.raises(TrainingError, match=r"The gradient became nan at step 10 while the loss was finite; "
                                            r"training stopped before the weights changed"):
        for ev in trainer.run():
            if ev.kind == "checkpoint":
                good = _sha(state_path(out))
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert checkpoint.load(state_path(out)).extra["step"] == 5 and _sha(state_path(out)) == good


def test_a_state_saved_without_a_data_position_still_resumes(tmp_path):
    """State files written before positions were kept: the stream starts afresh, as it used to."""
    out = tmp_path / "o.safetensors"
    cfg = TrainConfig(steps=6, precision="fp32", sample_every=10**9, checkpoint_every=3)
    for ev in Trainer(tiny_task(), cfg, out).run():
        if ev.kind == "checkpoint":
            break
    ck = checkpoint.load(state_path(out))
    old_extra = {k: v for k, v in ck.extra.items() if k not in ("data", "rng", "log")}
    checkpoint.save(state_path(out), family=ck.family, config=ck.config, extra=old_extra,
                    tensors={k: v for k, v in ck.tensors.items() if not k.startswith(("data.", "rng."))})
    resumed = Trainer(tiny_task(), cfg, out, resume=True)
    assert resumed.step == 3 and [e.kind for e in resumed.run()][-1] == "done"
