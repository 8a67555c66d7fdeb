"""Grid axes as text, and the cells they make: no model needed."""
import pytest

from studio.core.errors import RequestError
from studio.core.grid import MAX_CELLS, Axis, grid_cells, parse_axis, run_order
from studio.core.request import GenerationRequest

BASE = GenerationRequest(checkpoint="tiny-diffusion", prompt="a red sneaker", steps=20, batch_size=4)


@pytest.mark.parametrize("text, field, values", [
    ("steps=5,10,20", "steps", (5, 10, 20)),
    ("steps = 5:50:4", "steps", (5, 20, 35, 50)),
    ("steps=5, 10:20:3", "steps", (5, 10, 15, 20)),
    ("guidance=1:7:4", "guidance", (1.0, 3.0, 5.0, 7.0)),
    ("eta=0:0.3:4", "eta", (0.0, 0.1, 0.2, 0.3)),
    ("seed=7:7:1", "seed", (7,)),
    ("CFG=1.5,3", "guidance", (1.5, 3.0)),
    ("top-k=0,4", "top_k", (0, 4)),
    ("sampler= ddim, euler", "sampler", ("ddim", "euler")),
    ('prompt_sr=sneaker,"sandal, long",boot', "prompt", ("sneaker", "sandal, long", "boot")),
    ('negative_prompt=,blurry', "negative_prompt", ("", "blurry")),
    ("checkpoint=a,dir/b.safetensors", "checkpoint", ("a", "dir/b.safetensors")),
])
def test_parse_lists_and_ranges(text, field, values):
    axis = parse_axis(text)
    assert (axis.field, axis.values) == (field, values)
    assert all(type(v) is type(values[0]) for v in axis.values), "int fields hold ints, float fields floats"


@pytest.mark.parametrize("text, message", [
    ("steps 5,10", "FIELD=VALUES"),
    ("width=5,10", "cannot vary 'width'; it can vary: steps, seed"),
    ("steps=", "steps axis has no values"),
    ("steps=5,,10", "empty value"),
    ("steps=five", "steps axis takes whole numbers; 'five'"),
    ("steps=2.5", "steps axis takes whole numbers"),
    ("guidance=nan", "guidance axis takes finite numbers"),
    ("steps=1:10", "not a range: write START:STOP:COUNT"),
    ("steps=1:10:x", "COUNT must be a whole number"),
    ("steps=1:10:0", "COUNT must be a whole number"),
    ("steps=1:3:5", "repeats values once rounded"),
    ("sampler=ddim,", "sampler axis has an empty value"),
    ("prompt=,a", "first value is the text to replace"),
])
def test_parse_errors_say_what_is_wrong(text, message):
    with pytest.raises(RequestError, match=message.replace("(", r"\(")):
        parse_axis(text)


def test_cells_in_sheet_order_each_a_validated_batch_of_one():
    x, y, z = parse_axis("steps=5,10,20"), parse_axis("guidance=1,3"), parse_axis("prompt=sneaker,boot")
    cells = grid_cells(BASE, x, y, z)
    assert len(cells) == 12
    assert [(c.ix, c.iy, c.iz) for c in cells[:4]] == [(0, 0, 0), (1, 0, 0), (2, 0, 0), (0, 1, 0)]
    last = cells[-1]
    assert (last.request.steps, last.request.guidance, last.request.prompt) == (20, 3.0, "a red boot")
    assert last.labels == ("steps: 20", "guidance: 3", "prompt: boot")
    assert {c.request.batch_size for c in cells} == {1}
    assert {c.checkpoint for c in cells} == {"tiny-diffusion"}
    assert cells[0].fields == {"steps", "guidance", "prompt"}
    assert len(grid_cells(BASE, x)) == 3 and grid_cells(BASE, x)[1].labels == ("steps: 10",)


def test_a_z_axis_without_a_y_axis_varies_by_block():
    cells = grid_cells(BASE, parse_axis("steps=5,10"), None, parse_axis("seed=1,2"))
    assert [(c.ix, c.iz, c.request.steps, c.request.seed) for c in cells] == [
        (0, 0, 5, 1), (1, 0, 10, 1), (0, 1, 5, 2), (1, 1, 10, 2)]


def test_checkpoint_axis_sets_the_id_and_loads_by_what_was_given():
    cells = grid_cells(BASE, parse_axis("checkpoint=a,models/b.safetensors,a"), parse_axis("seed=1,2"))
    assert [c.request.checkpoint for c in cells[:3]] == ["a", "b", "a"]
    assert [c.checkpoint for c in cells[:3]] == ["a", "models/b.safetensors", "a"]
    assert cells[1].labels[0] == "checkpoint: b"
    # Grouped by checkpoint in order of first appearance, sheet order kept within a group.
    assert run_order(cells) == [0, 2, 3, 5, 1, 4]


def test_grid_refusals_name_the_problem():
    steps = parse_axis("steps=5,10")
    with pytest.raises(RequestError, match=r"grid cell steps: 0, guidance: 1 is refused: Steps must be between"):
        grid_cells(BASE, parse_axis("steps=0,5"), parse_axis("guidance=1,2"))
    with pytest.raises(RequestError, match="replaces 'sandal', which the prompt 'a red sneaker' does not contain"):
        grid_cells(BASE, parse_axis("prompt=sandal,boot"))
    with pytest.raises(RequestError, match="steps is on two axes"):
        grid_cells(BASE, steps, parse_axis("steps=1,2"))
    with pytest.raises(RequestError, match=rf"121 cells \(11 x 11\); at most {MAX_CELLS}"):
        grid_cells(BASE, parse_axis("seed=0:10:11"), parse_axis("steps=1:11:11"))
    with pytest.raises(RequestError, match="strength axis needs an input image"):
        grid_cells(BASE, parse_axis("strength=0.2,0.8"))
    with pytest.raises(RequestError, match="samples with dpm"):
        grid_cells(BASE, parse_axis("sampler=ddim,cached"))
    with pytest.raises(RequestError, match="steps axis has no values"):
        Axis("steps", ())
    assert Axis("Top-K", (1.0, "4")).values == (1, 4)  # what a dialog hands over is coerced as well
