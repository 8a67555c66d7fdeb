"""``genstudio train`` killed with SIGKILL after a state save and run again with ``--resume`` ends with
the very weights of a run never interrupted; Ctrl-C stops it after the step in progress, saving the
state. Tiny VAE runs on Fashion-MNIST, one thread each."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from studio.cli import main
from studio.core import checkpoint
from studio.core.training.paths import state_path
from tests.conftest import needs_fmnist

pytestmark = needs_fmnist

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--limit", "64", "--batch-size", "16", "--precision", "fp32", "--device", "cpu", "--threads", "1",
        "--log-every", "4", "--sample-every", "1000000", "--quiet"]


def genstudio(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import sys; from studio.cli import main; sys.exit(main())", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    return out


def test_kill_9_then_resume_ends_with_the_uninterrupted_weights(tmp_path, data_dir):
    env = {**os.environ, "GENSTUDIO_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    run = ["train", "vae", "--steps", "40", "--checkpoint-every", "4", *TINY]
    cut, full = tmp_path / "cut.safetensors", tmp_path / "full.safetensors"
    killed = genstudio(*run, "--out", str(cut), env=env)
    uninterrupted = genstudio(*run, "--out", str(full), env=env)  # alongside: the test takes one run's time less
    try:
        deadline = time.monotonic() + 240
        while not state_path(cut).exists():  # the first periodic save
            assert killed.poll() is None, killed.communicate()[1]
            assert time.monotonic() < deadline, "no state was saved in time"
            time.sleep(0.01)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
    finally:
        killed.kill()
    assert killed.returncode == -signal.SIGKILL and not cut.exists(), "killed mid-run"
    saved_at = checkpoint.load(state_path(cut)).extra["step"]
    assert 4 <= saved_at < 40

    out = finish(genstudio(*run, "--out", str(cut), "--resume", env=env))
    assert "trained 40 steps" in out
    finish(uninterrupted)
    a, b = load_file(str(full)), load_file(str(cut))
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    assert [k for k in a if not torch.equal(a[k], b[k])] == [], "resumed weights differ from uninterrupted ones"
    sa, sb = checkpoint.load(state_path(full)), checkpoint.load(state_path(cut))
    assert all(torch.equal(v, sb.tensors[k]) for k, v in sa.tensors.items() if k.startswith(("model.", "optim")))


def test_ctrl_c_stops_after_the_step_in_progress_and_saves_the_state(tmp_path, data_dir, monkeypatch, capsys):
    from studio.core.families import get_family
    from studio.core.families.vae.train import fashion_mnist_task

    def train_task(cls, dataset, **options):
        task = fashion_mnist_task(**options)
        loss, calls = task.loss, [0]

        def interrupted_loss(m, batch):
            calls[0] += 1
            if calls[0] == 5:
                signal.raise_signal(signal.SIGINT)  # Ctrl-C while step 5 runs
            return loss(m, batch)

        task.loss = interrupted_loss
        return task

    monkeypatch.setattr(get_family("vae"), "train_task", classmethod(train_task))
    out = tmp_path / "c.safetensors"
    before = signal.getsignal(signal.SIGINT)  # Python's own; ignored where the runner was started in the background
    assert main(["train", "vae", "--steps", "40", "--checkpoint-every", "1000", *TINY, "--out", str(out)]) == 130
    assert "stopped at step 5; saved its state in" in capsys.readouterr().err
    assert checkpoint.load(state_path(out)).extra["step"] == 5 and not out.exists()
    assert signal.getsignal(signal.SIGINT) is before, "Ctrl-C is handled as before the run again"


pytestmark = pytest.mark.usefixtures("one_thread")
