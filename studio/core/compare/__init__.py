"""Families side by side: the seed's comparison table, measured (``measure_table``), and its exports.

The table imports torch through the families; the Compare view loads it on a worker thread like any
model. Names are imported on first use (PEP 562), so the view's Qt-free timeline (``timeline``) loads
with the window, before torch."""
from importlib import import_module

_WHERE = {"from_json": "export", "to_csv": "export", "to_json": "export", "to_markdown": "export",
          "Novelty": "novelty", "TrainingImages": "novelty", "measure_novelty": "novelty",
          "nearest_neighbours": "novelty", "training_images": "novelty",
          "ROWS": "table", "Cell": "table", "CompareTable": "table", "measure_table": "table"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    return value
