"""Clips as filmstrips: cut back into frames exactly, wrapped into rows in time order, and wrapped so
that frames come out largest in the view that shows them."""
from __future__ import annotations

import numpy as np
import pytest

from studio.core.clips import contact_sheet, filmstrip, frames_of, sheet_rows


def _clips(n: int = 2, t: int = 16, h: int = 4, w: int = 5) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, t, h, w, 3), dtype=np.uint8)


def test_a_filmstrip_holds_its_frames_side_by_side_and_cuts_back_exactly():
    clips = _clips()
    strips = filmstrip(clips)
    assert strips.shape == (2, 4, 16 * 5, 3)
    assert np.array_equal(strips[1, :, 3 * 5: 4 * 5], clips[1, 3])
    assert np.array_equal(frames_of(strips, 16), clips) and np.array_equal(frames_of(strips[0], 16), clips[0])
    with pytest.raises(ValueError, match="does not hold 3 frames"):
        frames_of(strips, 3)


def test_a_contact_sheet_wraps_the_frames_into_rows_in_time_order():
    clips = _clips()
    sheet = contact_sheet(filmstrip(clips), 16, rows=4)
    assert sheet.shape == (2, 4 * 4, 4 * 5, 3)
    for k in range(16):
        r, col = divmod(k, 4)
        assert np.array_equal(sheet[1, r * 4:(r + 1) * 4, col * 5:(col + 1) * 5], clips[1, k])
    assert np.array_equal(contact_sheet(filmstrip(clips), 16, rows=1), filmstrip(clips))
    gapped = contact_sheet(filmstrip(clips), 16, rows=4, gap=1, gap_value=7)
    assert gapped.shape == (2, 4 * 4 + 3, 4 * 5 + 3, 3)
    assert np.array_equal(gapped[0, 5:9, 6:11], clips[0, 5]) and (gapped[:, 4, :] == 7).all()
    with pytest.raises(ValueError, match="rows evenly"):
        contact_sheet(filmstrip(clips), 16, rows=3)


def test_sheet_rows_makes_frames_largest_in_the_view():
    assert sheet_rows(1, 16, 32, 32, width=2000, height=70) == 1, "a wide, low view: one filmstrip"
    assert sheet_rows(1, 16, 32, 32, width=600, height=600) == 4, "a square view: 4 x 4"
    assert sheet_rows(2, 16, 32, 32, width=620, height=270) == 4, "two clips side by side in a wide view"
    assert sheet_rows(1, 16, 32, 32, width=70, height=2000) == 16, "a tall view: one frame a row"
    assert sheet_rows(1, 5, 32, 32, width=100, height=100) in (1, 5), "only rows that divide the frames"
