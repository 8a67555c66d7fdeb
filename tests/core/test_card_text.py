"""One renderer of model cards: the Model panel's HTML and the command line's text show the same
figures, from any card (a shipped one, one with every metric, a damaged one)."""
import json

import pytest

from studio.core.card_text import METRICS, render_card, render_metrics
from studio.store.paths import resources_dir

CARD = {
    "id": "demo", "family": "diffusion", "data": {"dataset": "fashion-mnist"},
    "training": {"steps_done": 4000, "seconds": 3946.3, "device": "cpu (x86_64, 2 threads)"},
    "reproduce": "genstudio train diffusion --out 'a b.safetensors' --steps 4000",
    "recipe": {"arch": "unet", "text": "pooled vector + token cross-attention", "prediction": "epsilon",
               "loss_weighting": "uniform", "warm_start": {"checkpoint": "old-model", "steps": 3000}},
    "metrics": {
        "quality": {"prompt_accuracy": 0.9, "held_out_prompt_accuracy": 0.825, "fid_classifier": 2.156936,
                    "fid_classifier_train_vs_test_same_n": 0.308018, "classifier_test_accuracy": 0.9247,
                    "real_reference": {"what": "binarised (seed 0)", "accuracy": 0.705, "fid_classifier_same_n": 12.95}},
        "likelihood": {"active_units": 2, "latent_dim": 2, "test_elbo_nats": -255.30165, "test_nll_iwae_nats": 253.77671,
                       "test_nll_iwae_bits_per_dim": 0.466992, "iwae_k": 100, "reconstruction_bce_nats": 247.70437,
                       "reconstruction_mse": 0.0253111,
                       "settings": {"test_images": 10000, "condition": "none"}},
        "adherence": {"overall": 0.3125, "images": 368, "settings": {"guidance": 3.0},
                      "tasks": {"single_object": 0.7916, "two_object": 0.1875, "color_attr": 0.0}},
        "sampling_speed": {"cached_seconds_per_image": 0.5718, "naive_seconds_per_image": 5.335, "speedup": 9.3,
                           "batch": 1, "device": "cpu (x86_64, 2 threads)"},
        "some_future_metric": {"x": 1},
    },
}
FIGURES = ["4000 steps in 3946.3 s",
           "U-Net, pooled vector + token cross-attention, predicts epsilon, uniform loss; warm start from old-model "
           "(3000 steps)", "prompt accuracy 90.0% (paraphrases 82.5%)", "classifier FD 2.16 (real data: 0.31)",
           "70.5% accuracy, FD 12.95", "test NLL 253.8 nats (IWAE k=100)", "ELBO -255.3", "reconstruction MSE 0.0253",
           "active units 2 of 2", "prompt adherence 0.31 (GenEval-style, guidance 3.0)", "single object 0.79",
           "two object 0.19", "color attr 0.00", "0.57 s per image cached, 9x faster than the naive loop (5.3 s)"]


def test_quality_likelihood_and_adherence_figures_in_text_and_html():
    card = render_card(CARD)
    text, html = card.to_text(), card.to_html()
    assert text.splitlines()[0] == "demo — diffusion, data: fashion-mnist"
    assert html.startswith("<b>demo</b> — diffusion, data: fashion-mnist<br>")
    for figure in FIGURES:
        assert figure in text and figure in html, figure
    assert [s.title for s in card.sections] == ["Training", "Recipe", "Quality", "Likelihood", "Prompt adherence",
                                                "Sampling speed", "Reproduce"], "unknown metric kinds are left out"
    assert "reproduce: genstudio train diffusion --out 'a b.safetensors' --steps 4000" in text
    assert "<small>reproduce: <code>genstudio train diffusion --out 'a b.safetensors' --steps 4000</code></small>" in html


def test_the_detailed_tables_are_the_command_lines():
    card = render_card(CARD, detail=True)
    lk = "\n".join(r.text for r in card.section("Likelihood").rows)
    assert "10000 binarised test images, condition: none" in lk
    assert "NLL (IWAE, k=100)" in lk and "253.78 nats (0.4670 bits/dim)" in lk and "-255.30 nats" in lk
    assert "247.70 nats, MSE 0.0253" in lk and "2 of 2" in lk
    ad = "\n".join(r.text for r in card.section("Prompt adherence").rows)
    assert "single_object     0.792" in ad and "overall           0.312" in ad
    assert "judged by the classifier (test accuracy 0.925)" in card.to_text()


def test_autoregressive_likelihood_exact_or_bound():
    exact = {"test_nll_nats": 232.369, "test_nll_bits_per_dim": 0.42759, "exact": True,
             "settings": {"test_images": 20, "condition": "none", "arch": "pixelcnn"}}
    assert "test NLL 232.4 nats = 0.428 bits/dim (exact, binarised Fashion-MNIST)" in render_card(
        {"metrics": {"likelihood": exact}}).to_html()
    bound = {**exact, "exact": False, "codes_nll_nats": 168.0, "codes_bits_per_code": 4.946, "decoder_nll_nats": 141.8,
             "settings": {**exact["settings"], "arch": "transformer"}}
    text = render_metrics("likelihood", bound, title="tr").to_text()
    assert text.splitlines()[0] == "tr"
    assert "transformer: 20 binarised test images" in text and "NLL (upper bound)" in text
    assert "4.946 bits/code" in text and "(-log p(x | codes))" in text
    grey = {**exact, "test_nll_bits_per_dim": 2.9, "settings": {**exact["settings"], "binarization": "none"}}
    assert "bits/dim (exact, grey Fashion-MNIST)" in render_card({"metrics": {"likelihood": grey}}).to_html()
    assert "20 grey test images" in render_metrics("likelihood", grey, title="g").to_text()


def test_a_damaged_or_empty_card_is_named_not_a_crash():
    card = render_card({"metrics": {"quality": {"prompt_accuracy": 0.5}, "likelihood": "nonsense"}}, title="x",
                       family="vae", dataset="tiny")
    assert card.to_text().splitlines()[0] == "x — vae, data: tiny"
    assert "the card's quality figures are incomplete" in card.to_text()
    assert card.section("Likelihood") is None
    assert render_card({}).to_text() == "? — ?, data: ?"
    assert "DiT, predicts v, ? loss" in render_card({"recipe": {"arch": "dit", "prediction": "v"}}).to_text()
    assert "loss: hinge; lr d: 0.0002" in render_card({"recipe": {"loss": "hinge", "lr_d": 0.0002}}).to_text()
    assert "&lt;script&gt;" in render_card({"id": "<script>"}).to_html(), "card text is escaped in HTML"


@pytest.mark.parametrize("name", ["gan-faces", "vae-fmnist-2d", "ar-transformer-fmnist", "diffusion-shapes"])
def test_every_metric_of_the_shipped_cards_renders(name):
    path = resources_dir() / "checkpoints" / f"{name}.json"
    if not path.is_file():
        pytest.skip("not shipped")
    card = json.loads(path.read_text())
    text = render_card(card, detail=True).to_text() + render_card(card).to_html()
    assert "incomplete" not in text
    shown = {k for k in card["metrics"] if k in METRICS}
    assert len([s for s in render_card(card).sections if s.title not in ("Purpose", "Training", "Recipe", "Reproduce")]) == len(shown)


def test_a_card_says_what_its_model_is_for_from_its_recipe_or_its_own_purpose():
    two_d = render_card({"id": "vae-fmnist-2d", "family": "vae"})
    assert "map model" in two_d.section("Purpose").rows[0].text
    assert "to generate with" in render_card({"id": "vae-fmnist-32d-text"}).section("Purpose").rows[0].text
    assert render_card({"id": "vae-fmnist-2d", "purpose": "mine"}).section("Purpose").rows[0].text == "mine"
    assert render_card({"id": "someone-elses-model"}).section("Purpose") is None
    assert render_card({"id": "vae-fmnist-2d"}).to_html().count("map model") == 1
