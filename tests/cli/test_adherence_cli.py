"""``genstudio eval adherence`` on a tiny untrained 32x32 colour diffusion model, and the benchmark's
refusal of models that do not make Shapes images."""
from __future__ import annotations

import json

from studio.cli import main
from studio.core.evaluation.adherence import TASKS
from tests.conftest import make_tiny_checkpoint


def test_eval_adherence_prints_every_task_and_writes_the_card(data_dir, capsys):
    ck = make_tiny_checkpoint(data_dir / "checkpoints" / "tiny-shapes.safetensors", image_size=32, channels=3)
    assert main(["eval", "adherence", "--checkpoint", "tiny-shapes", "--per-prompt", "1", "--steps", "2",
                 "--json", "--write-card", "--quiet"]) == 0
    out = capsys.readouterr().out
    m = json.loads(out.split("\nwrote metrics")[0])
    assert set(m["tasks"]) == set(TASKS) and m["images"] == 92
    assert 0.0 <= m["overall"] <= 1.0
    assert m["overall"] == sum(m["tasks"].values()) / len(TASKS)
    assert m["settings"]["guidance"] == 3.0 and m["settings"]["checkpoint"] == "tiny-shapes"
    card = json.loads(ck.with_suffix(".json").read_text())
    assert card["metrics"]["adherence"]["overall"] == m["overall"]
    assert main(["eval", "adherence", "--checkpoint", "tiny-shapes", "--per-prompt", "1", "--steps", "1",
                 "--quiet"]) == 0
    table = capsys.readouterr().out
    assert all(task in table for task in TASKS) and "SDXL 0.55" in table


def test_eval_adherence_refuses_a_model_that_does_not_draw_shapes(tiny_ckpt, capsys):
    assert main(["eval", "adherence", "--checkpoint", "tiny-diffusion", "--quiet"]) == 2
    assert "does not make 32x32 colour images" in capsys.readouterr().err


def test_eval_adherence_at_several_scales_writes_each_and_the_default_as_headline(data_dir, capsys):
    ck = make_tiny_checkpoint(data_dir / "checkpoints" / "tiny-shapes.safetensors", image_size=32, channels=3)
    assert main(["eval", "adherence", "--checkpoint", "tiny-shapes", "--per-prompt", "1", "--steps", "1",
                 "--sampler", "dpm++2m", "--guidance", "1", "3", "--write-card", "--quiet"]) == 0
    metrics = json.loads(ck.with_suffix(".json").read_text())["metrics"]
    by_scale = metrics["adherence_by_guidance"]
    assert set(by_scale) == {"1", "3"} and metrics["adherence"] == by_scale["3"]
    assert by_scale["1"]["settings"]["guidance"] == 1.0 and by_scale["3"]["settings"]["sampler"] == "dpm++2m"
