"""The input-image store and the PNG-settings reader open user files with the raster allow-list: an
EPS file under a .png name is refused with a message and never reaches Ghostscript."""
import numpy as np
import pytest

from studio.core.errors import RequestError, StudioError
from studio.store.inputs import inputs_dir, load_input, store_input
from studio.store.pngmeta import read_settings
from tests.core.test_images import EPS, no_ghostscript  # noqa: F401  (a fixture)


def test_stored_input_round_trips(data_dir):
    a = np.arange(12 * 12, dtype=np.uint8).reshape(12, 12, 1)
    assert np.array_equal(load_input(store_input(a)), a)


def test_eps_in_the_input_store_is_refused(data_dir, no_ghostscript):  # noqa: F811
    h = store_input(np.zeros((4, 4, 1), np.uint8))
    (inputs_dir() / f"{h}.png").write_bytes(EPS)  # replaced behind the studio's back
    with pytest.raises(StudioError, match=f"{h}.png"):
        load_input(h)


def test_eps_dropped_for_its_settings_is_refused(tmp_path, no_ghostscript):  # noqa: F811
    path = tmp_path / "x.png"
    path.write_bytes(EPS)
    with pytest.raises(RequestError, match=r"x\.png is not an image"):
        read_settings(path)
