"""The Compare view's shared timeline: frames placed at step / total, the latest at or before t shown,
and the row written as a GIF with one frame per time some column changes."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.compare.timeline import CELL, Track, row_image, row_width, save_row_gif, timeline_times
from studio.core.errors import StudioError
from studio.core.events import Frame


def track(total: int, size: int = 4, channels: int = 1, frames: int | None = None) -> Track:
    """A track whose frame k (1-based) is filled with the value k (mod 256)."""
    tr = Track()
    for k in range(1, (frames or total) + 1):
        tr.add(Frame(k, total, np.full((1, size, size, channels), k % 256, np.uint8), final=k == total))
    return tr


def test_a_column_shows_its_latest_frame_at_or_before_t():
    tr = track(20)
    assert tr.times[9] == 0.5 and tr.final
    assert tr.index_at(0.5) == 9  # step 10 of 20 is exactly at 0.5
    assert tr.index_at(0.549) == 9 and tr.index_at(0.55) == 10
    assert tr.index_at(0.0) is None and tr.index_at(0.049) is None
    assert tr.at(1.0)[0, 0, 0] == 20
    one = track(1)  # a one-pass model: its image appears at t = 1
    assert one.index_at(0.999) is None and one.index_at(1.0) == 0
    assert Track().at(1.0) is None


def test_raster_frames_keep_the_drawn_image_and_the_models_own_pixels():
    sampled = np.zeros((4, 4), bool)
    sampled[:2] = True
    tr = Track()
    tr.add(Frame(2, 4, np.full((1, 4, 4, 1), 200, np.uint8), sampled=sampled))
    assert tr.images[0].shape == (4, 4, 3) and tr.images[0][0, 0, 0] == 200 and tr.images[0][3, 3, 0] != 200
    assert tr.raw[0].shape == (4, 4, 1) and (tr.raw[0] == 200).all()
    assert not tr.final


def test_timeline_times_are_the_union_of_the_columns_times_thinned_to_a_limit():
    tracks = [track(4), track(2), track(1)]
    assert timeline_times(tracks) == [0.25, 0.5, 0.75, 1.0]
    many = timeline_times([track(300)], max_frames=50)
    assert len(many) == 50 and many[0] == 1 / 300 and many[-1] == 1.0


def test_row_image_puts_the_columns_side_by_side_at_one_size():
    grey = np.full((4, 4, 1), 255, np.uint8)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 255
    pic = row_image([grey, rgb, None], [("a", "A"), ("b", "B"), ("c", "C")], caption="t", t=0.5)
    assert pic.width == row_width(3) == 3 * CELL + 4 * 6
    a = np.asarray(pic)
    ys = np.nonzero((a == 255).all(-1).any(1))[0]  # the white image's rows: a CELL-high square
    assert len(ys) >= CELL
    red = np.nonzero(((a == (255, 0, 0)).all(-1)).any(0))[0]
    assert len(red) == CELL and red[0] == 6 + CELL + 6, "the red image fills the second cell"


def test_the_row_gif_has_a_frame_per_change_and_the_row_width(tmp_path):
    tracks = [track(20), track(7), track(1)]
    path = save_row_gif(tracks, [("x", "X")] * 3, tmp_path / "row.gif", cell=32)
    with Image.open(path) as gif:
        assert gif.n_frames == len(timeline_times(tracks)) == 20 + 7 - 1  # 1.0 is in all three; 1/1 too
        assert gif.width == row_width(3, cell=32)
    with pytest.raises(StudioError, match="run the comparison first"):
        save_row_gif([Track()], [("x", "X")], tmp_path / "none.gif")
