"""The shipped Shapes diffusion model: its card says how it was made and carries the adherence it
measured at two guidance scales, and it draws what simple prompts ask for, as the detector reads it."""
import numpy as np
import pytest

from studio.core import checkpoint
from studio.core.evaluation.adherence import TASKS
from studio.store.paths import resources_dir

CKPT = resources_dir() / "checkpoints" / "diffusion-shapes.safetensors"


def test_the_card_says_how_it_was_made_and_what_it_scored():
    card = checkpoint.read_card(CKPT)
    assert card["family"] == "diffusion" and card["config"]["dataset"] == "shapes"
    assert card["reproduce"].startswith("genstudio train diffusion --data shapes")
    assert "--tokens" in card["reproduce"] and card["config"]["unet"]["context_dim"] == 384
    # Two stages, both on the card: token attention grafted onto the pooled-vector model that ships beside
    # it (2000 steps), then min-SNR-5 training on from that stage.
    start = card["recipe"]["warm_start"]
    assert start["steps"] == 2000 and "--init resources/checkpoints/diffusion-shapes-pooled.safetensors" \
        in start["reproduce"]
    assert card["reproduce"].split(" && ")[0].startswith("genstudio train diffusion --data shapes --init "
                                                          "resources/checkpoints/diffusion-shapes-pooled")
    assert card["recipe"]["loss_weighting"] == "min-SNR-5" and "--min-snr 5" in card["reproduce"]
    assert card["training"]["steps_done"] == card["training"]["steps"] == 4000
    sha = checkpoint.file_hash(CKPT)
    headline, by_scale = card["metrics"]["adherence"], card["metrics"]["adherence_by_guidance"]
    assert set(by_scale) == {"1", "3"} and headline == by_scale["3"]
    for run in by_scale.values():
        assert run["settings"]["checkpoint_hash"] == sha and set(run["tasks"]) == set(TASKS)
        assert run["overall"] == pytest.approx(np.mean(list(run["tasks"].values())))
        assert run["images"] == 368
    assert by_scale["1"]["tasks"]["single_object"] > 0.6, "it draws the shape it is asked for most of the time"
    assert headline["tasks"]["colors"] > 0.6 and headline["overall"] > 0.4


@pytest.fixture(scope="module")
def model():
    from studio.store.registry import load_model

    return load_model(str(CKPT))


@pytest.mark.parametrize("prompt,shape,colour", [("a blue square", "square", "blue"),
                                                 ("a green triangle", "triangle", "green")])
def test_it_draws_the_prompted_shape_in_the_prompted_colour(model, prompt, shape, colour):
    from studio.core.evaluation.shapes_detect import detect

    images = model.generate(model.default_request().with_(prompt=prompt, steps=30, seed=11, batch_size=6))
    assert images.shape == (6, 32, 32, 3)
    found = [any(o.shape == shape and o.colour == colour for o in detect(img)) for img in images]
    assert sum(found) >= 3, (prompt, [[(o.colour, o.shape) for o in detect(img)] for img in images])
