"""The comparison table's exports: Markdown for people (n/a reasons in the cells, how each figure
was measured below), CSV one line per cell, JSON read back to the same table."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from studio.core.compare import Cell, CompareTable, Novelty, from_json, to_csv, to_json, to_markdown
from studio.core.errors import StudioError


@pytest.fixture
def table() -> CompareTable:
    timed = "median of 3 batches"
    return CompareTable(
        ["model-a", "model|b"],
        {"Speed: batch 1": {"model-a": Cell("3.5 ms/image", 3.5, timed), "model|b": Cell("12 ms/image", 12.0, timed)},
         "Facial manipulation": {"model-a": Cell.na("The Diffusion family has no attribute directions to edit."),
                                 "model|b": Cell("smile +1.63 (others 0.10)", 1.63, 'read from the card, "quoted"')},
         "Control over generation": {"model-a": Cell("prompt, steps, sampler (6)", 3.0, "declared controls"),
                                     "model|b": Cell("latent sliders (8-D), truncation", 2.0, "declared controls")}},
        {"seed": 0, "default requests": {"model-a": "ddim, 20 steps", "model|b": "one pass"}},
    )


def test_markdown_shows_figures_reasons_and_how(table):
    md = to_markdown(table)
    lines = md.splitlines()
    assert lines[0] == "| Characteristic | model-a | model\\|b |" and lines[1] == "|---|---|---|"
    assert lines[2] == "| Speed: batch 1 | 3.5 ms/image | 12 ms/image |"
    assert lines[3] == ("| Facial manipulation | n/a: The Diffusion family has no attribute directions to edit. "
                        "| smile +1.63 (others 0.10) |")
    # one note where every column was measured the same way, one per way otherwise; n/a reasons are in the cells
    assert "- **Speed: batch 1**: median of 3 batches" in lines
    assert '- **Facial manipulation**: read from the card, "quoted"' in lines
    assert "- **Control over generation**: declared controls" in lines
    assert "- default requests: model-a: ddim, 20 steps; model|b: one pass" in lines
    assert table.to_markdown() == md


def test_csv_has_one_line_per_cell(table):
    rows = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert len(rows) == 6 and list(rows[0]) == ["characteristic", "checkpoint", "value", "number", "how"]
    for r in rows:
        cell = table.cell(r["characteristic"], r["checkpoint"])
        assert (r["value"], r["how"]) == (cell.value, cell.how)
        assert r["number"] == "" if cell.number is None else float(r["number"]) == cell.number
    assert table.to_csv() == to_csv(table)


def test_json_reads_back_to_the_same_table(table):
    text = to_json(table)
    assert json.loads(text)["rows"]["Facial manipulation"]["model-a"] == {
        "value": "n/a", "number": None, "how": "The Diffusion family has no attribute directions to edit."}
    back = from_json(text)
    assert back == table and back.columns == table.columns and list(back.rows) == list(table.rows)
    assert table.to_json() == text


def test_json_lists_the_novelty_neighbours(table):
    images = np.zeros((2, 4, 4, 1), np.uint8)
    table.novelty["model-a"] = Novelty(images, np.array([0.1, 0.2]), np.array([5, 9]), images, np.array([0.2, 0.4]))
    d = json.loads(to_json(table))
    assert d["novelty"] == {"model-a": {"nearest": [5, 9], "distances": [0.1, 0.2], "reference_median": 0.3}}
    assert from_json(to_json(table)) == table  # the samples stay with the live table


@pytest.mark.parametrize("text", ["not json", "[]", '{"columns": ["a"]}', '{"columns": [], "rows": {"r": {"a": 1}}}'])
def test_json_that_is_not_a_table_is_refused(text):
    with pytest.raises(StudioError, match="not a comparison table"):
        from_json(text)
