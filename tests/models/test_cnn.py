"""models/cnn.py: the shared classifier head (``make_head``) of ``cnn``, ``cnn_sweep`` and ``local``.

The head used to be written out in both cnn.py and local.py; the reference below is that
code. Seeded initial weights depend on the order modules are created in, so the shared
helper must build the same modules in the same order: same layers, same weights.
"""
import math

import pytest
import torch
from torch import nn

from convstudies.models import create_model
from convstudies.models.cnn import ConvBlock, make_head
from convstudies.models.local import LocalBlock

BLOCKS = [{"filters": 4, "kernel": 5, "stride": 2, "padding": 2, "norm": True},
          {"filters": 6, "kernel": 3, "stride": 2, "padding": 1, "pool": "max"}]
HEADS = [("flatten", 0, 0.0), ("global_avg", 0, 0.0), ("global_max", 0, 0.0), ("flatten", 32, 0.3),
         ("global_avg", 16, 0.0), ("global_max", 0, 0.5)]


def _reference_head(out_shape, num_classes, head, hidden, dropout):
    """The head as cnn.py wrote it inline before ``make_head``."""
    dim, c = len(out_shape) - 1, out_shape[0]
    if head == "flatten":
        pool, n_feat = nn.Flatten(), math.prod(out_shape)
    else:
        adaptive = {1: (nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d),
                    2: (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)}[dim]
        pool = nn.Sequential((adaptive[0] if head == "global_avg" else adaptive[1])(1), nn.Flatten())
        n_feat = c
    mlp = [nn.Linear(n_feat, hidden), nn.ReLU()] if hidden else []
    drop = [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(pool, *drop, *mlp, nn.Linear(hidden or n_feat, num_classes))


def _same(a: nn.Module, b: nn.Module):
    assert repr(a) == repr(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize("head,hidden,dropout", HEADS)
@pytest.mark.parametrize("in_shape", [(1, 28, 28), (2, 40)])
def test_cnn_head_is_the_inline_head_of_before(in_shape, head, hidden, dropout):
    torch.manual_seed(0)
    net = create_model("cnn", in_shape=in_shape, num_classes=7, blocks=BLOCKS, head=head, hidden=hidden,
                       dropout=dropout)
    torch.manual_seed(0)  # the same net by hand: blocks, then the reference head
    feats = nn.Sequential(ConvBlock(in_shape[0], len(in_shape) - 1, **BLOCKS[0]), ConvBlock(4, len(in_shape) - 1,
                                                                                           **BLOCKS[1]))
    with torch.no_grad():
        out_shape = tuple(feats(torch.zeros(1, *in_shape)).shape[1:])
    ref = _reference_head(out_shape, 7, head, hidden, dropout)
    _same(net.features, feats)
    _same(net.head, ref)
    x = torch.randn(3, *in_shape)
    net.eval(), feats.eval(), ref.eval()
    assert torch.equal(net(x), ref(feats(x)))


@pytest.mark.parametrize("head,hidden,dropout", HEADS)
def test_local_head_is_the_cnn_head(head, hidden, dropout):
    """The locally-connected net gets exactly the cnn's head for the same feature-map shape."""
    torch.manual_seed(1)
    net = create_model("local", in_shape=(1, 12, 12), num_classes=5, blocks=BLOCKS, head=head, hidden=hidden,
                       dropout=dropout)
    torch.manual_seed(1)
    b0 = LocalBlock(1, (12, 12), **BLOCKS[0])
    b1 = LocalBlock(4, (6, 6), **BLOCKS[1])
    with torch.no_grad():  # the net runs each block on zeros to size the next (batch-norm statistics move)
        b0(torch.zeros(1, 1, 12, 12)), b1(torch.zeros(1, 4, 6, 6))
    ref = _reference_head((6, 1, 1), 5, head, hidden, dropout)  # 12 -> 6 -> 3 -> max pool 1
    _same(net.features, nn.Sequential(b0, b1))
    _same(net.head, ref)
    cnn = create_model("cnn", in_shape=(1, 12, 12), num_classes=5, blocks=BLOCKS, head=head, hidden=hidden,
                       dropout=dropout)
    assert repr(cnn.head) == repr(net.head)


def test_make_head_layers():
    h = make_head((16, 7, 7), 10, "flatten", hidden=64, dropout=0.2)
    assert [type(m) for m in h] == [nn.Flatten, nn.Dropout, nn.Linear, nn.ReLU, nn.Linear]
    assert (h[2].in_features, h[2].out_features, h[4].in_features) == (16 * 49, 64, 64)
    g = make_head((16, 7, 7), 10, "global_max")
    assert [type(m) for m in g[0]] == [nn.AdaptiveMaxPool2d, nn.Flatten] and g[-1].in_features == 16
    assert isinstance(make_head((8, 30), 3, "global_avg")[0][0], nn.AdaptiveAvgPool1d)
    with pytest.raises(ValueError, match="unknown head 'gap'"):
        make_head((16, 7, 7), 10, "gap")
    for name in ("cnn", "local"):
        with pytest.raises(ValueError, match="unknown head 'gap'; allowed: flatten, global_avg, global_max"):
            create_model(name, head="gap")
