"""models/local.py: the locally-connected layer and net (convolution's windows without weight sharing)."""
import pytest
import torch
from torch import nn

from convstudies.models import create_model
from convstudies.models.local import LocallyConnected2d

BLOCKS = [{"filters": 8, "kernel": 5, "stride": 2, "padding": 2, "norm": True},
          {"filters": 16, "kernel": 3, "stride": 2, "padding": 1, "norm": True}]


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("k,s,p", [(3, 1, 1), (5, 2, 2), (3, 2, 0), (4, 3, 1)])
def test_locally_connected_with_tied_weights_is_a_convolution(k, s, p):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, k, stride=s, padding=p)
    lc = LocallyConnected2d(3, 4, (11, 11), k, stride=s, padding=p)
    with torch.no_grad():
        lc.weight.copy_(conv.weight.reshape(4, -1).t().expand_as(lc.weight))
        lc.bias.copy_(conv.bias[:, None, None].expand_as(lc.bias))
    x = torch.randn(2, 3, 11, 11)
    assert lc(x).shape == conv(x).shape
    torch.testing.assert_close(lc(x), conv(x), atol=1e-5, rtol=1e-5)


def test_locally_connected_has_one_filter_bank_per_position_and_stays_local():
    lc = LocallyConnected2d(2, 3, (8, 8), 3, stride=1, padding=0)  # 6x6 output positions
    assert lc.weight.shape == (36, 2 * 9, 3) and lc.bias.shape == (3, 6, 6)
    assert n_params(lc) == 36 * (2 * 9 * 3) + 3 * 36  # 36 times a 3x3 conv's weights, biases per position
    # no sharing: changing the filters of one position changes that position's output only
    x = torch.randn(1, 2, 8, 8)
    before = lc(x).detach()
    with torch.no_grad():
        lc.weight[7] += 1.0  # position 7 = row 1, column 1
    changed = (lc(x).detach() - before).abs().sum(1)[0] > 0
    assert changed.nonzero().tolist() == [[1, 1]]
    # locality: output (2, 3) depends on the 3x3 input window at rows 2-4, columns 3-5 only
    x.requires_grad_(True)
    lc(x)[0, :, 2, 3].sum().backward()
    footprint = (x.grad[0].abs().sum(0) > 0).nonzero()
    assert footprint.min(0).values.tolist() == [2, 3] and footprint.max(0).values.tolist() == [4, 5]


def test_local_net_mirrors_the_cnn_feature_maps_and_multiplies_its_weights():
    cnn = create_model("cnn", blocks=BLOCKS, head="flatten")
    local = create_model("local", blocks=BLOCKS, head="flatten")
    x = torch.randn(3, 1, 28, 28)
    assert local.features(x).shape == cnn.features(x).shape == (3, 16, 7, 7)
    # conv weights (no bias under batch norm): 8*1*25 and 16*8*9; the local net has them per position
    conv_w = 8 * 25 + 16 * 8 * 9
    local_w = 14 * 14 * 8 * 25 + 7 * 7 * 16 * 8 * 9
    bn, head = 2 * (8 + 16), 16 * 7 * 7 * 10 + 10
    assert n_params(cnn) == conv_w + bn + head == 9250
    assert n_params(local) == local_w + bn + head == 103546
    assert local(x).shape == (3, 10)


def test_local_net_rejects_what_it_cannot_do():
    with pytest.raises(ValueError, match="pads with zeros only"):
        create_model("local", blocks=[{"filters": 2, "padding_mode": "circular"}])
    with pytest.raises(ValueError, match="does not fit"):
        create_model("local", in_shape=(1, 4, 4), blocks=[{"filters": 2, "kernel": 7, "padding": 0}])
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        create_model("local", in_shape=(1, 40))
