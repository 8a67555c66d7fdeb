"""The comparison table as Markdown (for people), CSV (one line per cell, for spreadsheets and
scripts) and JSON (everything, read back by ``from_json``)."""
from __future__ import annotations

import csv
import io
import json

from ..errors import StudioError
from .table import Cell, CompareTable

CSV_FIELDS = ("characteristic", "checkpoint", "value", "number", "how")


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(table: CompareTable) -> str:
    """The table, then how each figure was measured: once per row where every column measured it the
    same way, else per column. Reasons for "n/a" stand in the cells themselves."""
    lines = ["| Characteristic | " + " | ".join(_md(c) for c in table.columns) + " |",
             "|---|" + "---|" * len(table.columns)]
    for row, cells in table.rows.items():
        lines.append(f"| {_md(row)} | " + " | ".join(_md(cells[c].text) for c in table.columns) + " |")
    notes = []
    for row, cells in table.rows.items():
        columns_of: dict[str, list[str]] = {}  # how -> the columns measured that way
        for c in table.columns:
            if cells[c].applies:
                columns_of.setdefault(cells[c].how, []).append(c)
        for how, columns in columns_of.items():
            which = "" if len(columns_of) == 1 else f" ({', '.join(columns)})"
            notes.append(f"- **{row}**{which}: {how}")
    if notes:
        lines += ["", "How each figure was measured:", *notes]
    if table.settings:
        lines += ["", "Settings:"]
        for key, value in table.settings.items():
            shown = "; ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else value
            lines.append(f"- {key}: {shown}")
    return "\n".join(lines) + "\n"


def to_csv(table: CompareTable) -> str:
    """One line per cell: characteristic, checkpoint, value ("n/a" where it does not apply), number
    (empty where there is none), how it was measured or why it does not apply."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for row, cells in table.rows.items():
        for column in table.columns:
            cell = cells[column]
            w.writerow((row, column, cell.value, "" if cell.number is None else repr(cell.number), cell.how))
    return out.getvalue()


def to_dict(table: CompareTable) -> dict:
    d = {"columns": list(table.columns),
         "rows": {row: {c: {"value": cell.value, "number": cell.number, "how": cell.how} for c, cell in cells.items()}
                  for row, cells in table.rows.items()},
         "settings": dict(table.settings)}
    if table.novelty:  # which training image each novelty sample is nearest to, for a viewer
        d["novelty"] = {c: {"nearest": n.nearest.tolist(), "distances": [round(float(x), 5) for x in n.distances],
                            "reference_median": round(n.reference_median, 5)} for c, n in table.novelty.items()}
    return d


def to_json(table: CompareTable) -> str:
    return json.dumps(to_dict(table), indent=2, allow_nan=False)


def from_json(text: str) -> CompareTable:
    """A table written by ``to_json`` (its novelty samples are not kept in JSON, only their neighbours'
    indices, so ``novelty`` comes back empty)."""
    try:
        d = json.loads(text)
        columns = [str(c) for c in d["columns"]]
        rows = {str(row): {str(c): Cell(str(v["value"]), None if v["number"] is None else float(v["number"]),
                                        str(v["how"])) for c, v in cells.items()}
                for row, cells in d["rows"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise StudioError(f"This is not a comparison table written by genstudio compare --json ({e}).") from e
    return CompareTable(columns, rows, dict(d.get("settings") or {}))
