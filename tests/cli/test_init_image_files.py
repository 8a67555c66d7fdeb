"""``generate --init-image`` with hostile files: a long thin strip, a header claiming 900 megapixels,
an EPS file named .png. Each is one line and exit 2, nothing written and no Ghostscript."""
import pytest
from PIL import Image

from studio.cli import main
from tests.core.test_images import EPS, no_ghostscript, png_header_only  # noqa: F401  (a fixture)


@pytest.mark.parametrize(("name", "message"), [("strip.png", "too long and thin"), ("huge.png", "too large"),
                                               ("x.png", "is not an image this studio can read")])
def test_hostile_init_images_are_one_line(name, message, tiny_ckpt, tmp_path, capsys, no_ghostscript):  # noqa: F811
    path = tmp_path / name
    if name == "strip.png":
        Image.new("L", (100_000, 1), 200).save(path)
    elif name == "huge.png":
        path.write_bytes(png_header_only(30_000, 30_000))
    else:
        path.write_bytes(EPS)
    out = tmp_path / "out.png"
    assert main(["generate", "--checkpoint", "tiny-diffusion", "--init-image", str(path), "--steps", "2",
                 "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"genstudio: {name}") and message in err and len(err.splitlines()) == 1
    assert not out.exists()
