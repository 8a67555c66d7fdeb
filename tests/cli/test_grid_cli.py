"""``genstudio grid`` on a tiny checkpoint: the sheet, its metadata and gallery items that reproduce."""
import numpy as np
from PIL import Image

from studio.cli import main
from studio.core.grid import read_grid_metadata
from studio.core.request import GenerationRequest
from studio.store.gallery import GalleryStore
from studio.store.pngmeta import read_settings
from studio.store.registry import load_model


def test_grid_writes_a_sheet_and_nine_reproducible_gallery_items(tiny_ckpt, data_dir, tmp_path, one_thread, capsys):
    out = tmp_path / "sheets" / "grid.png"
    assert main(["grid", "--checkpoint", str(tiny_ckpt), "--prompt", "a red sneaker", "--seed", "4",
                 "--x", "steps=1,2,3", "--y", "guidance=1:5:3", "--out", str(out), "--gallery", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    meta = read_grid_metadata(out)
    assert [(a["axis"], a["field"], a["values"]) for a in meta["axes"]] == [
        ("x", "steps", [1, 2, 3]), ("y", "guidance", [1.0, 3.0, 5.0])]
    requests = [GenerationRequest.from_dict(c["request"]) for c in meta["cells"]]
    assert [(r.steps, r.guidance) for r in requests] == [(s, g) for g in (1.0, 3.0, 5.0) for s in (1, 2, 3)]
    assert {(r.prompt, r.seed, r.checkpoint, r.batch_size) for r in requests} == {("a red sneaker", 4,
                                                                                   "tiny-diffusion", 1)}
    assert Image.open(out).width > 3 * 96

    with GalleryStore(data_dir / "gallery") as store:
        items = store.items()
    assert len(items) == 9
    assert sorted(i.request.to_json() for i in items) == sorted(r.to_json() for r in requests)
    model = load_model("tiny-diffusion")
    for item in items:
        request, index = read_settings(item.path)
        pixels = np.asarray(Image.open(item.path))
        assert index == 0 and np.array_equal(model.generate(request)[0][..., 0], pixels), "the item reproduces"


def test_grid_refuses_bad_axes_and_outputs_with_a_message(tiny_ckpt, tmp_path, capsys):
    base = ["grid", "--checkpoint", "tiny-diffusion", "--steps", "1"]
    cases = [
        (["--x", "width=1,2", "--out", str(tmp_path / "a.png")], "cannot vary 'width'"),
        (["--x", "steps=1,2", "--out", str(tmp_path / "a.jpg")], "must name a .png file"),
        (["--x", "seed=0:10:11", "--y", "steps=1:10:10", "--out", str(tmp_path / "a.png")], "110 cells"),
        (["--x", "guidance=1,40", "--out", str(tmp_path / "a.png")], "guidance: 40 is refused"),
        (["--x", "checkpoint=tiny-diffusion,nope", "--out", str(tmp_path / "a.png")], "No checkpoint named 'nope'"),
    ]
    for args, message in cases:
        assert main(base + args) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.png"))


def test_a_run_stopped_by_a_refusal_keeps_the_finished_cells(tiny_ckpt, tiny_pixelcnn, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["grid", "--checkpoint", "tiny-diffusion", "--steps", "1", "--x", "checkpoint=tiny-diffusion,"
                 "tiny-pixelcnn", "--y", "sampler=ddim", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "samples with cached or naive, not 'ddim'" in err and "holds the 1 of 2 cells finished" in err
    assert [c["labels"] for c in read_grid_metadata(out)["cells"]] == [["checkpoint: tiny-diffusion", "sampler: ddim"]]
