"""X/Y/Z grids: a request varied along up to three axes, drawn cell by cell, shown as one labelled sheet.

Names are imported on first use (PEP 562), so the command line's parser can read ``axes`` without
loading torch through ``run``."""
from importlib import import_module

_WHERE = {"FIELDS": "axes", "MAX_CELLS": "axes", "Axis": "axes", "Cell": "axes", "grid_cells": "axes",
          "parse_axis": "axes", "CellResult": "run", "GridEvent": "run", "run_grid": "run", "run_order": "run",
          "GRID_KEY": "sheet_png", "read_grid_metadata": "sheet_png", "save_sheet": "sheet_png",
          "sheet": "sheet_png"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = import_module(f".{_WHERE[name]}", __name__)
    value = globals()[name] = getattr(module, name)
    return value
