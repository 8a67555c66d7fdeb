"""Families side by side: the seed's comparison table, measured (``measure_table``), and its exports.

Imports torch through the families; the Compare view loads it on a worker thread like any model."""
from __future__ import annotations

from .export import from_json, to_csv, to_json, to_markdown
from .novelty import Novelty, TrainingImages, measure_novelty, nearest_neighbours, training_images
from .table import ROWS, Cell, CompareTable, measure_table

__all__ = ["ROWS", "Cell", "CompareTable", "Novelty", "TrainingImages", "from_json", "measure_novelty",
           "measure_table", "nearest_neighbours", "to_csv", "to_json", "to_markdown", "training_images"]
