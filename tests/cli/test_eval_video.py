"""``genstudio eval video`` on a tiny untrained video checkpoint (JSON, table and model card), and its
refusal of a checkpoint that makes still images."""
from __future__ import annotations

import json

from studio.cli import main
from studio.core.card_text import render_card


def test_eval_video_prints_json_and_writes_the_figures_on_the_card(tiny_video, one_thread, capsys):
    argv = ["eval", "video", "tiny-video", "--n", "1", "--steps", "1", "--guidance", "2", "--json",
            "--write-card", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    m = json.loads(out.split("\nwrote metrics")[0])
    assert m["clips"] == 36 and len(m["prompts"]) == 36
    for key in ("motion_adherence", "object_adherence", "colour_adherence", "temporal_consistency",
                "consistent_clips"):
        assert 0.0 <= m[key] <= 1.0 and m["real"][key] == 1.0
    assert m["fd_frames"] >= 0 and m["real"]["fd_frames"] >= 0
    s = m["settings"]
    assert (s["checkpoint"], s["sampler"], s["steps"], s["guidance"], s["frames"]) == ("tiny-video", "ddim", 1, 2.0, 4)
    assert s["command"] == "genstudio " + " ".join(argv)
    card = json.loads(tiny_video.with_suffix(".json").read_text())
    assert card["metrics"]["video"] == m
    assert card["id"] == "tiny-video" and render_card(card).title == "tiny-video"  # the card still reads


def test_eval_video_prints_a_table_beside_the_real_clips(tiny_video, one_thread, capsys):
    assert main(["eval", "video", "--checkpoint", str(tiny_video), "--n", "1", "--steps", "1",
                 "--sampler", "dpm++2m", "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "dpm++2m 1 steps" in table and "model   real" in table
    for row in ("motion adherence", "temporal consistency", "per-frame Frechet distance", "bounce_vertical", "shrink"):
        assert row in table
    assert "video" not in json.loads(tiny_video.with_suffix(".json").read_text()).get("metrics", {})


def test_eval_video_refuses_a_model_of_still_images(tiny_ckpt, capsys):
    assert main(["eval", "video", "tiny-diffusion", "--quiet"]) == 2
    assert "tiny-diffusion makes still images, not clips" in capsys.readouterr().err


def test_eval_video_needs_a_checkpoint(data_dir, capsys):
    assert main(["eval", "video"]) == 2
    assert "needs a checkpoint" in capsys.readouterr().err
