"""Grids drawn on tiny models: the events, the sheet and its metadata, and every cell reproducing alone."""
import numpy as np
import pytest
from PIL import Image

from studio.core.errors import RequestError
from studio.core.grid import grid_cells, parse_axis, read_grid_metadata, run_grid, save_sheet, sheet
from studio.core.grid.run import CellResult
from studio.core.grid.sheet_png import EMPTY, grid_metadata, layout, scale_of
from studio.core.request import GenerationRequest
from studio.store.registry import load_model


class CountingLoader:
    """load_model by id, counting how often each checkpoint is loaded."""

    def __init__(self) -> None:
        self.loaded: list[str] = []

    def __call__(self, checkpoint: str):
        self.loaded.append(checkpoint)
        return load_model(checkpoint)


def _results(events):
    return [e.result for e in events if e.kind == "cell"]


def test_steps_by_guidance_grid_makes_a_labelled_sheet_whose_cells_reproduce(tiny_ckpt, tmp_path, one_thread):
    x, y = parse_axis("steps=1,2,3"), parse_axis("guidance=1:5:3")
    base = load_model("tiny-diffusion").default_request().with_(seed=3)
    cells = grid_cells(base, x, y)
    loader = CountingLoader()
    events = list(run_grid(cells, loader))
    assert loader.loaded == ["tiny-diffusion"]
    assert [e.kind for e in events[:4]] == ["loading", "frame", "cell", "frame"]
    for i, cell in enumerate(cells):  # every denoising step is shown, for live previews
        frames = [e.frame for e in events if e.kind == "frame" and e.index == i]
        assert [f.step for f in frames] == list(range(1, cell.request.steps + 1)) and frames[-1].final
    results = _results(events)
    assert [e.done for e in events if e.kind == "cell"] == list(range(1, 10))
    assert [(r.cell.ix, r.cell.iy) for r in results] == [(ix, iy) for iy in range(3) for ix in range(3)]

    path = save_sheet(tmp_path / "grid.png", results, x, y)
    picture = np.asarray(Image.open(path).convert("RGB"))
    lay = layout(results, x, y)
    assert picture.shape[:2] == lay.size
    assert lay.tile >= 96 and picture.shape[1] > 3 * lay.tile and picture.shape[0] > 3 * lay.tile
    assert (picture[:lay.head] < 128).any() and (picture[:, :lay.left] < 128).any(), "labels are drawn"

    meta = read_grid_metadata(path)
    assert meta["axes"] == [{"axis": "x", "field": "steps", "values": [1, 2, 3]},
                            {"axis": "y", "field": "guidance", "values": [1.0, 3.0, 5.0]}]
    assert len(meta["cells"]) == 9
    model = load_model("tiny-diffusion")
    for r, stored in zip(results, meta["cells"]):
        request = GenerationRequest.from_dict(stored["request"])
        assert request == r.request and (request.steps, request.guidance) == (r.cell.request.steps,
                                                                              r.cell.request.guidance)
        assert np.array_equal(model.generate(request)[0], r.image), f"cell {stored['labels']} reproduces"
        k = scale_of(r.image)
        r0, c0 = lay.origin(r.cell.ix, r.cell.iy, 0)
        tile = picture[r0:r0 + r.image.shape[0] * k:k, c0:c0 + r.image.shape[1] * k:k]
        assert np.array_equal(tile, np.repeat(r.image, 3, axis=-1)), "the sheet shows the cell's pixels"
    assert len({r.image.tobytes() for r in results}) > 1, "the axes change the images"


def test_checkpoint_axis_loads_each_model_once_and_fits_the_sampler(tiny_ckpt, tiny_gan, tiny_pixelcnn, one_thread):
    base = GenerationRequest(checkpoint="tiny-diffusion", steps=2, temperature=0.5)
    x = parse_axis("checkpoint=tiny-diffusion,tiny-gan,tiny-pixelcnn")
    cells = grid_cells(base, x, parse_axis("seed=1,2"))
    loader = CountingLoader()
    results = _results(run_grid(cells, loader))
    assert loader.loaded == ["tiny-diffusion", "tiny-gan", "tiny-pixelcnn"]
    by_family = {r.request.family: r.request for r in results}
    assert by_family["diffusion"].sampler == "dpm++2m" and by_family["gan"].sampler == ""
    assert by_family["autoregressive"].sampler == "cached", "the base's sampler becomes the model's default"
    assert by_family["autoregressive"].temperature == 0.5 and by_family["diffusion"].temperature == 1.0
    assert {r.image.shape for r in results} == {(12, 12, 1), (12, 12, 3)}
    for r in results:
        assert np.array_equal(load_model(r.request.checkpoint).generate(r.request)[0], r.image)
    assert sheet(results, x, parse_axis("seed=1,2")).ndim == 3


def test_a_sampler_an_axis_asks_for_is_refused_before_that_model_draws(tiny_ckpt, tiny_pixelcnn, one_thread):
    cells = grid_cells(GenerationRequest(checkpoint="tiny-diffusion", steps=1),
                       parse_axis("checkpoint=tiny-diffusion,tiny-pixelcnn"), parse_axis("sampler=ddim,euler"))
    events = []
    with pytest.raises(RequestError, match="samples with cached or naive, not 'ddim'"):
        for event in run_grid(cells, load_model):
            events.append(event)
    assert len(_results(events)) == 2 and events[-1].kind == "loading", "nothing drawn by the refusing model"


def test_stopping_the_iteration_cancels_and_a_partial_sheet_leaves_grey_tiles(tiny_ckpt, one_thread):
    x = parse_axis("seed=1,2,3")
    loader = CountingLoader()
    run = run_grid(grid_cells(GenerationRequest(checkpoint="tiny-diffusion", steps=1), x), loader)
    first = next(e for e in run if e.kind == "cell")
    run.close()
    assert loader.loaded == ["tiny-diffusion"]
    picture = sheet([first.result], x)
    lay = layout([first.result], x)
    r0, c0 = lay.origin(1, 0, 0)
    assert (picture[r0:r0 + lay.tile, c0:c0 + lay.tile] == EMPTY).all()
    r0, c0 = lay.origin(0, 0, 0)
    assert not (picture[r0:r0 + lay.tile, c0:c0 + lay.tile] == EMPTY).all()


def test_a_z_axis_stacks_one_labelled_block_per_value_and_mixed_sizes_share_a_tile():
    x, y, z = parse_axis("seed=1,2"), parse_axis("steps=1,2"), parse_axis('prompt=shoe,"boot, tall"')
    cells = grid_cells(GenerationRequest(prompt="a shoe"), x, y, z)
    rng = np.random.default_rng(0)
    results = [CellResult(c, c.request, rng.integers(0, 256, (12, 12, 1) if c.ix == 0 else (28, 20, 3), np.uint8))
               for c in cells]
    lay = layout(results, x, y, z)
    assert (lay.nx, lay.ny, lay.nz, lay.tile) == (2, 2, 2, 4 * 28), "28 px scaled 4x; 12 px 8x fits inside"
    picture = sheet(results, x, y, z)
    assert picture.shape == (*lay.size, 3) and lay.size[0] == 2 * lay.block + 4
    for r in results:
        k, (h, w, _) = scale_of(r.image), r.image.shape
        r0, c0 = lay.origin(r.cell.ix, r.cell.iy, r.cell.iz)
        r0, c0 = r0 + (lay.tile - h * k) // 2, c0 + (lay.tile - w * k) // 2  # centred in its tile
        shown = picture[r0:r0 + h * k:k, c0:c0 + w * k:k]
        assert np.array_equal(shown, r.image if w == 20 else np.repeat(r.image, 3, axis=-1))
    title = picture[lay.block:lay.block + lay.title]
    assert (title < 128).any(), "the second block has its z title"
    meta = grid_metadata(results, x, y, z)
    assert [a["field"] for a in meta["axes"]] == ["seed", "steps", "prompt"]
    assert meta["cells"][-1]["request"]["prompt"] == "a boot, tall" and meta["cells"][-1]["z"] == 1
