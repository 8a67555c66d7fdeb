"""GenerationRequest: validation and the 'parameters' text other tools read."""
import pytest

from studio.core.errors import RequestError
from studio.core.request import GenerationRequest


def test_parameters_round_trip():
    req = GenerationRequest(prompt="a sneaker, side view", negative_prompt="a boot", sampler="ddpm", steps=123,
                            guidance=4.5, seed=42, batch_size=3, checkpoint="m", checkpoint_hash="abc123",
                            eta=0.5, width=28, height=28)
    assert GenerationRequest.from_parameters(req.to_parameters()) == req
    assert GenerationRequest.from_dict(req.to_dict()) == req


def test_multiline_prompt_survives():
    req = GenerationRequest(prompt="line one\nline two")
    assert GenerationRequest.from_parameters(req.to_parameters()).prompt == "line one\nline two"


def test_foreign_parameters_are_read_leniently():
    text = "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: DDIM, CFG scale: 7, Seed: 5, Size: 512x512"
    req = GenerationRequest.from_parameters(text)
    assert (req.prompt, req.negative_prompt, req.steps, req.sampler, req.seed) == ("a cat", "blurry", 20, "ddim", 5)


@pytest.mark.parametrize("change", [dict(steps=0), dict(steps=1001), dict(batch_size=17), dict(seed=-1),
                                    dict(guidance=-1.0), dict(eta=2.0)])
def test_out_of_range_values_are_refused(change):
    with pytest.raises(RequestError):
        GenerationRequest(**change).validated()


def test_garbage_is_refused_with_a_message():
    with pytest.raises(RequestError, match="no generation settings"):
        GenerationRequest.from_parameters("just some text")
    with pytest.raises(RequestError, match="steps"):
        GenerationRequest.from_dict({"steps": "many"})
