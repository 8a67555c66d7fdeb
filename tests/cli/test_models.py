"""``genstudio models`` beside broken checkpoints: exit 0, the good ones listed in aligned columns, the
broken ones in their own section with the reason; ``generate`` still works beside them."""
import json

from studio.cli import main
from tests.conftest import make_tiny_checkpoint


def test_models_lists_broken_checkpoints_with_reasons(tiny_ckpt, data_dir, capsys):
    folder = tiny_ckpt.parent
    long_id = "a-very-long-checkpoint-name-that-is-wider-than-any-column-before"
    make_tiny_checkpoint(folder / f"{long_id}.safetensors")
    make_tiny_checkpoint(folder / "bad-card.safetensors").with_suffix(".json").write_text("[1, 2, 3]")
    make_tiny_checkpoint(folder / "bad-title.safetensors").with_suffix(".json").write_text('{"title": 5}')
    (folder / "junk.safetensors").write_bytes(b"\x01\x02")
    assert main(["models"]) == 0
    out, err = capsys.readouterr()
    listing, broken = out.split("\nbroken (3, skipped):\n")
    rows = listing.splitlines()
    assert rows[0].split() == ["id", "family", "dataset", "path"]
    ours = {r.split()[0]: r for r in rows[1:]}
    assert {"tiny-diffusion", long_id} <= set(ours) and "bad-card" not in ours
    # every column starts at the same place in every row, however long the ids are
    for column in ("family", "dataset", "path"):
        start = rows[0].index(column)
        assert all(r[start - 2:start] == "  " and r[start] != " " for r in rows[1:]), column
    reasons = {r.split()[0]: r for r in broken.splitlines()[1:]}
    assert set(reasons) == {"bad-card", "bad-title", "junk"}
    assert "must be a JSON object, not a list" in reasons["bad-card"] and "title 5" in reasons["bad-title"]
    assert reasons["bad-card"].split()[1] == "diffusion" and reasons["junk"].split()[1] == "?"
    assert "Traceback" not in err


def test_generate_beside_a_broken_checkpoint(tiny_ckpt, tmp_path, capsys):
    bad = make_tiny_checkpoint(tiny_ckpt.parent / "broken.safetensors")
    bad.with_suffix(".json").write_text(json.dumps({"data": "x"}))
    out = tmp_path / "x.png"
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--steps", "2", "--out", str(out), "--quiet"]) == 0
    assert out.is_file()
    assert main(["generate", "--checkpoint", "broken", "--steps", "2", "--out", str(tmp_path / "y.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genstudio: Checkpoint broken cannot be used: The model card broken.json has data 'x'")
    assert len(err.strip().splitlines()) == 1
