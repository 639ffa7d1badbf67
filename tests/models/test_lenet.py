"""models/lenet.py: LeNet-5's geometry and intermediate activations agree with its layers."""
import pytest
import torch
from torch import nn

from convstudies.models import create_model
from convstudies.models.lenet import LAYERS


@pytest.mark.parametrize("size,pad", [(28, 2), (32, 0)])
def test_geometry_matches_the_layers(size, pad):
    m = create_model("lenet5", in_shape=(1, size, size))
    geo = m.geometry()
    assert geo == [("C1", 5, 1, pad), ("S2", 2, 2, 0), ("C3", 5, 1, 0), ("S4", 2, 2, 0), ("F5", 5, 1, 0)]
    assert tuple(name for name, *_ in geo) == LAYERS
    # each conv/pool layer is a module with exactly that kernel, stride and padding
    for (name, k, s, p), mod in zip(geo[:4], (m.c1, m.s2, m.c3, m.s4)):
        if isinstance(mod, nn.Conv2d):
            assert (mod.kernel_size, mod.stride, mod.padding) == ((k, k), (s, s), (p, p)), name
        else:
            assert (mod.kernel_size, mod.stride, mod.padding) == (k, s, p), name
    # F5 is a linear layer on S4's whole maps: a (k x k) convolution with S4's channels
    n = size
    for _, k, s, p in geo[:4]:
        n = (n + 2 * p - k) // s + 1
    assert n == geo[4][1] and m.f5.in_features == m.c3.out_channels * n * n


def test_intermediates_and_stages_reproduce_the_forward_pass():
    torch.manual_seed(0)
    m = create_model("lenet5").eval()
    x = torch.rand(2, 1, 28, 28)
    feats = m.forward_intermediates(x)
    assert list(feats) == list(LAYERS)
    assert {k: tuple(v.shape) for k, v in feats.items()} == {
        "C1": (2, 6, 28, 28), "S2": (2, 6, 14, 14), "C3": (2, 16, 10, 10), "S4": (2, 16, 5, 5), "F5": (2, 120)}
    # by hand, as the paper's layers: tanh after the convolutions and F5
    c1 = torch.tanh(m.c1(x))
    assert torch.equal(feats["C1"], c1)
    assert torch.equal(feats["S2"], nn.functional.avg_pool2d(c1, 2))
    assert torch.equal(m.out(m.act(m.f6(feats["F5"]))), m(x))
    assert list(m.forward_intermediates(x, stop_at="C3")) == ["C1", "S2", "C3"]
    for name, stage in m.stages().items():
        assert torch.equal(stage(x), feats[name]), name
    with pytest.raises(ValueError, match="unknown LeNet-5 layer 'F6'"):
        m.forward_intermediates(x, stop_at="F6")
