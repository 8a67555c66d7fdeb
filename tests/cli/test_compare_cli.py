"""``genstudio compare``: the measured table for any checkpoints, as JSON, Markdown and CSV."""
from __future__ import annotations

import csv
import json
from types import SimpleNamespace

from studio.cli import main
from studio.cli.compare import default_checkpoints
from studio.core.compare import ROWS


def test_compare_prints_json_and_writes_csv(tiny_gan, tiny_vae, tmp_path, capsys, one_thread):
    out = tmp_path / "table.csv"
    # one by path, one by registered id
    assert main(["compare", "--checkpoints", str(tiny_gan), "tiny-vae", "--json", "--no-speed", "--quiet",
                 "--csv", str(out)]) == 0
    printed, err = capsys.readouterr()
    d = json.loads(printed)
    assert d["columns"] == ["tiny-gan", "tiny-vae"] and list(d["rows"]) == list(ROWS)
    assert all(set(cells) == {"tiny-gan", "tiny-vae"} for cells in d["rows"].values())
    assert d["rows"]["Quality: prompt adherence"]["tiny-gan"]["value"] == "n/a"
    assert d["rows"]["Resources: parameters"]["tiny-vae"]["number"] > 0
    assert d["rows"]["Speed: batch 1"]["tiny-vae"]["how"] == "not measured (speed measurement switched off)"
    assert "latent sliders (8-D)" in d["rows"]["Control over generation"]["tiny-gan"]["value"]
    lines = list(csv.DictReader(out.open()))
    assert len(lines) == 2 * len(ROWS) and f"wrote {out}" in err


def test_compare_prints_markdown_by_default(tiny_vae, capsys, one_thread):
    assert main(["compare", "--checkpoints", "tiny-vae", "--no-speed", "--novelty", "0", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| Characteristic | tiny-vae |\n|---|---|\n")
    assert "| Novelty | n/a: not measured (no samples asked for) |" in printed
    assert "How each figure was measured:" in printed


def test_compare_refuses_unknown_checkpoints_and_bad_counts(tiny_vae, capsys):
    assert main(["compare", "--checkpoints", "no-such-model", "--no-speed", "--quiet"]) == 2
    assert "No checkpoint named 'no-such-model'" in capsys.readouterr().err
    assert main(["compare", "--checkpoints", "tiny-vae", "--novelty", "-1", "--quiet"]) == 2
    assert "--novelty takes 0 or more samples" in capsys.readouterr().err


def test_default_checkpoints_are_the_best_of_each_family():
    def info(id_, family, fd=None, best=None):
        card = {"metrics": {"quality": {"fid_classifier": fd}}} if fd is not None else {}
        return SimpleNamespace(id=id_, family=family, card=card | ({"best": best} if best is not None else {}))

    infos = [info("ar-b", "autoregressive", 14.0), info("ar-a", "autoregressive", 20.7),
             info("diff-a", "diffusion"), info("diff-b", "diffusion", 2.2), info("gan-faces", "gan"),
             info("gan-fmnist", "gan", 6.6), info("vae-a", "vae"), info("vae-b", "vae"),
             info("toy-x", "toy", 50.0), info("toy-y", "toy", 1.0, best=False), info("toy-z", "toy", 99.0, best=True)]
    assert default_checkpoints(infos) == ["ar-b", "diff-b", "gan-fmnist", "vae-a", "toy-z"]
