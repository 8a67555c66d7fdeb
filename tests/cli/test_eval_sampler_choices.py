"""`genstudio eval quality|adherence --sampler` offers exactly the samplers the catalog lists."""
import pytest

from studio.cli import build_parser
from studio.core.catalog import CATALOG


@pytest.mark.parametrize("what", ["quality", "adherence"])
def test_eval_sampler_choices_come_from_the_catalog(what):
    parser = build_parser()
    for name in CATALOG["diffusion"].samplers:
        assert parser.parse_args(["eval", what, "--checkpoint", "x", "--sampler", name]).sampler == name
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", what, "--checkpoint", "x", "--sampler", "lms"])
