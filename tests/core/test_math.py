"""The Fourier embedding, the tokenizer and the fuser against the spec's formulas (GLIGEN.md 2.1, 3.2),
written out here independently with plain loops and matrix products."""
from __future__ import annotations

import math

import pytest
import torch

from gligen_pack.gligen_core import GatedSelfAttention, TextBoxTokenizer, fourier_embed, fourier_frequencies
from gligen_pack.gligen_core._ops import sdpa_attention
from helpers.spec import spec_fuser


def spec_fourier(box: list[float]) -> list[float]:
    out = []
    for k in range(8):
        f = 100.0 ** (k / 8)
        out += [math.sin(f * c) for c in box]
        out += [math.cos(f * c) for c in box]
    return out


def test_frequencies_are_the_spec_values():
    expected = [1, 1.778, 3.162, 5.623, 10, 17.78, 31.62, 56.23]
    assert fourier_frequencies().tolist() == pytest.approx(expected, rel=1e-3)


def test_fourier_embedding_matches_formula_and_ordering():
    gen = torch.Generator().manual_seed(0)
    boxes = torch.rand(3, 5, 4, generator=gen, dtype=torch.float64)
    emb = fourier_embed(boxes)
    assert emb.shape == (3, 5, 64)
    for b in range(3):
        for i in range(5):
            assert emb[b, i].tolist() == pytest.approx(spec_fourier(boxes[b, i].tolist()), abs=1e-5)  # float32 frequencies, as official
    # index 8k + 4s + j: frequency 2 (3.162), cos, y0
    assert emb[0, 0, 8 * 2 + 4 + 1].item() == pytest.approx(math.cos(100 ** 0.25 * boxes[0, 0, 1].item()))


def random_tokenizer(seed=0, in_dim=16, out_dim=24, hidden=20):
    torch.manual_seed(seed)
    tok = TextBoxTokenizer(in_dim, out_dim, 8, hidden)
    with torch.no_grad():
        for p in tok.parameters():
            p.normal_(0, 0.3)
    return tok


def spec_tokens(tok, boxes, masks, feats):
    w = [tok.linears[i].weight.double() for i in (0, 2, 4)]
    b = [tok.linears[i].bias.double() for i in (0, 2, 4)]
    out = torch.zeros(boxes.shape[0], boxes.shape[1], w[2].shape[0], dtype=torch.float64)
    for bi in range(boxes.shape[0]):
        for s in range(boxes.shape[1]):
            m = masks[bi, s].item()
            pos = torch.tensor(spec_fourier(boxes[bi, s].tolist()), dtype=torch.float64)
            pos = pos * m + tok.null_position_feature.double() * (1 - m)
            txt = feats[bi, s].double() * m + tok.null_positive_feature.double() * (1 - m)
            h = torch.cat([txt, pos])              # [semantic ; position]
            h = w[0] @ h + b[0]
            h = h * torch.sigmoid(h)
            h = w[1] @ h + b[1]
            h = h * torch.sigmoid(h)
            out[bi, s] = w[2] @ h + b[2]
    return out


def test_tokenizer_matches_formula_with_masks_and_null_slots():
    tok = random_tokenizer()
    gen = torch.Generator().manual_seed(1)
    boxes = torch.rand(2, 6, 4, generator=gen)
    feats = torch.randn(2, 6, 16, generator=gen)
    masks = torch.tensor([[1, 1, 0, 0, 0.5, 0], [1, 0, 0, 0, 0, 0]], dtype=torch.float32)
    got = tok(boxes, masks, feats).double()
    torch.testing.assert_close(got, spec_tokens(tok, boxes, masks, feats), rtol=1e-5, atol=1e-5)


def test_null_tokens_are_identical_and_ignore_box_and_feature():
    tok = random_tokenizer()
    null = tok.null_tokens(batch=2, slots=30)
    assert null.shape == (2, 30, 24)
    torch.testing.assert_close(null[0, 0].expand(30, -1), null[0])
    torch.testing.assert_close(null[0], null[1])
    gen = torch.Generator().manual_seed(2)
    other = tok(torch.rand(1, 30, 4, generator=gen), torch.zeros(1, 30), torch.randn(1, 30, 16, generator=gen))
    torch.testing.assert_close(other[0], null[0])


def random_fuser(dim=32, ctx=24, heads=4, seed=0, gates=(0.7, -0.4)):
    torch.manual_seed(seed)
    f = GatedSelfAttention(dim, ctx, heads)
    with torch.no_grad():
        for p in f.parameters():
            p.normal_(0, 0.3)
        f.alpha_attn.fill_(gates[0])
        f.alpha_dense.fill_(gates[1])
    return f


@pytest.mark.parametrize("scale,heads", [(1.0, 4), (0.6, 4), (1.0, 8)])
def test_fuser_matches_formula(scale, heads):
    f = random_fuser()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 10, 32, generator=gen)
    objs = torch.randn(2, 30, 24, generator=gen)
    got = f(x, objs, scale, heads=heads).double()
    torch.testing.assert_close(got, spec_fuser(f, x, objs, scale, heads), rtol=1e-4, atol=1e-4)


def test_fuser_identity_when_scale_or_gates_are_zero():
    x = torch.randn(1, 9, 32)
    objs = torch.randn(1, 30, 24)
    assert torch.equal(random_fuser()(x, objs, 0.0), x)
    assert torch.equal(random_fuser(gates=(0.0, 0.0))(x, objs, 1.0), x)


def test_residual_is_the_layers_update():
    f = random_fuser()
    x = torch.randn(2, 7, 32)
    objs = torch.randn(2, 30, 24)
    torch.testing.assert_close(x + f.residual(x, objs, 0.8), f(x, objs, 0.8), rtol=1e-5, atol=1e-5)


def test_fuser_follows_input_dtype():
    f = random_fuser()
    x = torch.randn(1, 5, 32, dtype=torch.float64)
    assert f(x, torch.randn(1, 30, 24)).dtype == torch.float64
    f16 = random_fuser().half()
    out = f16(torch.randn(1, 5, 32), torch.randn(1, 30, 24))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_fuser_uses_the_attention_it_is_given_with_the_hosts_options():
    """A host injects its attention backend per call; its options reach it untouched."""
    f = random_fuser()
    gen = torch.Generator().manual_seed(5)
    x, objs = torch.randn(2, 10, 32, generator=gen), torch.randn(2, 30, 24, generator=gen)
    calls = []

    def host_attention(q, k, v, heads, precision=None):
        calls.append((tuple(q.shape), tuple(k.shape), heads, precision))
        return sdpa_attention(q, k, v, heads)

    got = f(x, objs, 0.7, heads=4, attention=host_attention, precision="fp32")
    assert calls == [((2, 10, 32), (2, 40, 32), 4, "fp32")]   # queries: the visual tokens; keys: [x ; objs]
    torch.testing.assert_close(got, f(x, objs, 0.7, heads=4))


def test_a_tensor_scale_equals_the_number():
    f = random_fuser()
    x, objs = torch.randn(1, 6, 32), torch.randn(1, 30, 24)
    for s in (0.0, 0.35, 1.0):
        torch.testing.assert_close(f(x, objs, torch.tensor(s)), f(x, objs, s))
        torch.testing.assert_close(f.residual(x, objs, torch.tensor(s)), f.residual(x, objs, s))


def test_rebuilt_adapter_with_other_layers_and_dtype_computes_the_same():
    from gligen_pack.gligen_core import AdapterShape, BlockPosition, GLIGENAdapter, TokenizerShape
    from gligen_pack.gligen_core._ops import Ops
    shape = AdapterShape({BlockPosition("input", 1, 0): 32}, 24, TokenizerShape(16, 24, 20, 8))
    torch.manual_seed(0)
    a = GLIGENAdapter(shape)
    with torch.no_grad():
        for p in a.parameters():
            p.normal_(0, 0.3)
    plain = Ops(Linear=torch.nn.Linear, LayerNorm=torch.nn.LayerNorm)
    b = a.rebuilt(plain, torch.float64)
    assert all(type(m) in (torch.nn.Linear, torch.nn.LayerNorm) for m in b.modules() if hasattr(m, "weight"))
    assert {p.dtype for p in b.parameters()} == {torch.float64}
    same = a.rebuilt(plain, torch.float32)
    assert all(p.data_ptr() == q.data_ptr() for p, q in zip(a.parameters(), same.parameters()))  # shared, not copied
    x, objs = torch.randn(1, 6, 32), torch.randn(1, 30, 24)
    pos = BlockPosition("input", 1, 0)
    torch.testing.assert_close(b.fuser_at(pos)(x.double(), objs.double()).float(), a.fuser_at(pos)(x, objs),
                               rtol=1e-5, atol=1e-5)
    assert b.fuser_table() == {("input", 1, 0): b.fuser_at(pos)}
