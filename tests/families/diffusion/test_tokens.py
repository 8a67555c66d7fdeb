"""Token-level conditioning: the encoder's token embeddings, the packed condition, weighted
cross-attention, blends of token sequences, and a U-Net that reads them."""
from __future__ import annotations

import pytest
import torch

from studio.core.denoising.conditioning import CrossAttention
from studio.core.denoising.unet import UNet, UNetConfig
from studio.core.prompt.blend import embed_prompts
from studio.core.prompt.encoder import EMBED_DIM, shared_encoder
from studio.core.prompt.packed import pack, pooled, tokens

pytestmark = pytest.mark.usefixtures("one_thread")


def test_token_embeddings_are_per_prompt_unpadded_and_independent_of_company():
    enc = shared_encoder()
    short, long, empty = enc.encode_tokens(["a circle", "a red circle to the left of a blue square", ""])
    assert short.shape[1] == long.shape[1] == EMBED_DIM
    assert 2 < len(short) < len(long)  # [CLS] a circle [SEP]: no padding kept
    assert empty.shape == (0, EMBED_DIM)
    alone = enc.encode_tokens(["a circle"])[0]
    torch.testing.assert_close(alone, short, atol=1e-5, rtol=0)


def test_pack_round_trips_and_a_zeroed_row_is_no_condition():
    vecs = torch.randn(2, 4)
    seqs = [torch.randn(3, 4), torch.randn(1, 4)]
    c = pack(vecs, seqs)
    assert c.shape == (2, 4, 5)
    assert torch.equal(pooled(c), vecs)
    toks, weights = tokens(c)
    assert torch.equal(toks[0], seqs[0]) and torch.equal(toks[1, :1], seqs[1])
    assert weights.tolist() == [[1, 1, 1], [1, 0, 0]]
    c[1] = 0.0  # what classifier-free guidance's condition dropout does
    assert not pooled(c)[1].any() and not tokens(c)[1][1].any()


def test_blend_concatenates_the_parts_tokens_weighted_by_share_of_the_largest():
    enc = shared_encoder()
    a, b = enc.encode_tokens(["a red circle", "a blue square"])
    c = embed_prompts(enc, ["a red circle::2 | a blue square::1", "a red circle"], tokens=True)
    toks, weights = tokens(c)
    n = len(a) + len(b)
    torch.testing.assert_close(toks[0, :n], torch.cat([a, b]))
    assert weights[0, :n].tolist() == [1.0] * len(a) + [0.5] * len(b)
    assert weights[1].tolist() == [1.0] * len(a) + [0.0] * (c.shape[1] - 1 - len(a))
    torch.testing.assert_close(pooled(c), embed_prompts(enc, ["a red circle::2 | a blue square::1",
                                                              "a red circle"]))


def _perturbed(module: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return module


def test_cross_attention_weights_are_logit_biases():
    attn = _perturbed(CrossAttention(8, 6, heads=2))
    x, tok = torch.randn(1, 5, 8), torch.randn(1, 2, 6)
    ones = torch.ones(1, 2)
    # weight 2 on a token is the token present twice; weight 0 is the token absent
    doubled = attn(x, tok, torch.tensor([[2.0, 1.0]]))
    twice = attn(x, torch.cat([tok[:, :1], tok], dim=1), torch.ones(1, 3))
    torch.testing.assert_close(doubled, twice)
    torch.testing.assert_close(attn(x, tok, torch.tensor([[0.0, 1.0]])), attn(x, tok[:, 1:], ones[:, 1:]))
    assert not torch.allclose(attn(x, tok, ones), attn(x, tok[:, 1:], ones[:, 1:]))
    nothing = attn(x, tok, torch.zeros(1, 2))  # only the null slot: finite, and the same as no tokens
    assert torch.isfinite(nothing).all()
    torch.testing.assert_close(nothing, attn(x, tok[:, :0], ones[:, :0]))


def _unet(context: bool) -> UNet:
    cfg = UNetConfig(in_channels=1, image_size=8, base_channels=8, channel_mult=(1, 2), attention_levels=(1,),
                     cond_dim=6, emb_dim=16, context_dim=6 if context else 0)
    torch.manual_seed(0)
    return UNet(cfg)


def test_a_new_token_unet_computes_what_its_pooled_twin_does_until_trained():
    plain, reading = _perturbed(_unet(False)), _unet(True)
    state = reading.state_dict()
    state.update(plain.state_dict())  # the warm start: cross-attention layers keep their zeroed outputs
    reading.load_state_dict(state)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([10, 900])
    c = pack(torch.randn(2, 6), [torch.randn(3, 6), torch.randn(5, 6)])
    torch.testing.assert_close(reading(x, t, c), plain(x, t, pooled(c)))


def test_token_unet_reads_the_tokens_not_only_the_pooled_vector():
    model = _perturbed(_unet(True)).eval()
    x, t = torch.randn(1, 1, 8, 8), torch.tensor([300])
    vec = torch.randn(1, 6)
    red_circle, blue_circle = torch.randn(3, 6), torch.randn(3, 6)
    a, b = model(x, t, pack(vec, [red_circle])), model(x, t, pack(vec, [blue_circle]))
    assert (a - b).abs().max() > 1e-4
    padded = pack(vec, [red_circle], length=7)  # padding (weight 0) changes nothing
    torch.testing.assert_close(model(x, t, padded), a)
    none = model(x, t, None)
    torch.testing.assert_close(none, model(x, t, torch.zeros(1, 1, 7)))
