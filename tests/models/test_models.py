import math

import pytest
import torch

from convstudies.models import create_model, list_models, tiny_kwargs


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_forward_backward(name):
    in_shape = (1, 28, 28)
    model = create_model(name, in_shape=in_shape, num_classes=10, **tiny_kwargs(name))
    x = model.example_input(3) if hasattr(model, "example_input") else torch.randn(3, *in_shape)  # token ids for text models
    out = model(x)
    assert out.shape == (3, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_mlp_parameter_count_formula():
    d, w = 784, 100
    m = create_model("mlp", in_shape=(1, 28, 28), depth=2, width=w)
    assert n_params(m) == (d * w + w) + (w * w + w) + (w * 10 + 10)
    assert n_params(create_model("logistic")) == 784 * 10 + 10


def test_lenet5_has_the_papers_layer_sizes():
    m = create_model("lenet5")
    assert (m.c1.out_channels, m.c3.out_channels, m.f5.out_features, m.f6.out_features) == (6, 16, 120, 84)
    assert n_params(m) == 61706  # with full C3 connectivity (the paper's sparse table has 60k)


def test_cnn_flatten_head_and_global_pooling_head_shapes():
    blocks = [{"filters": 8, "kernel": 5, "pool": "max"}, {"filters": 16, "kernel": 3, "pool": "max"}]
    flat = create_model("cnn", in_shape=(1, 36, 36), blocks=blocks, head="flatten")
    gap = create_model("cnn", in_shape=(1, 36, 36), blocks=blocks, head="global_max")
    assert flat.head[-1].in_features == 16 * 9 * 9
    assert gap.head[-1].in_features == 16
    # a global-pooling net accepts any input size; a flatten head does not
    assert gap(torch.randn(2, 1, 50, 50)).shape == (2, 10)


@pytest.mark.parametrize("n,k,s,p", [(28, 5, 1, 0), (28, 3, 2, 1), (36, 7, 3, 2), (10, 1, 1, 0)])
def test_conv_output_size_formula(n, k, s, p):
    m = create_model("cnn", in_shape=(1, n, n), blocks=[{"filters": 2, "kernel": k, "stride": s, "padding": p}])
    out = m.features(torch.zeros(1, 1, n, n))
    assert out.shape[-1] == math.floor((n + 2 * p - k) / s) + 1


def test_cnn_1d_for_sequences():
    m = create_model("cnn", in_shape=(1, 40), blocks=[{"filters": 4, "kernel": 5, "pool": "max"}])
    assert m(torch.randn(2, 1, 40)).shape == (2, 10)


def test_unknown_model_and_argument_errors_name_what_is_allowed():
    with pytest.raises(ValueError, match="unknown model 'resnet9000'.*registered: cnn"):
        create_model("resnet9000")
    with pytest.raises(ValueError, match="unknown argument.*'depht'.*allowed"):
        create_model("mlp", depht=3)
    with pytest.raises(ValueError, match="unknown pool 'maxx'"):
        create_model("cnn", blocks=[{"filters": 2, "pool": "maxx"}])
