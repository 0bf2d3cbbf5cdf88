"""Step 2: init_network builds the assignment's architecture, initialised, with clear errors."""

import warnings

import pytest
import torch
from torch import nn

import helpers

ASSIGNMENT_TABLE = """\
Size of net(1).w = 784x100
Size of net(1).b = 100
Size of net(2).w = 100x50
Size of net(2).b = 50
Size of net(3).w = 50x10
Size of net(3).b = 10"""


def test_assignment_example_gives_the_assignment_sizes():
    net = helpers.init_network(2, 784, [100, 50, 10], 0.2, device="cpu")
    assert net.size_table() == ASSIGNMENT_TABLE
    linears = [module for module in net if isinstance(module, nn.Linear)]
    assert [tuple(layer.weight.shape) for layer in linears] == [(100, 784), (50, 100), (10, 50)]


def test_hidden_blocks_then_a_plain_linear_output():
    net = helpers.init_network(2, 784, [100, 50, 10], 0.3, device="cpu")
    kinds = [type(module) for module in net]
    assert kinds == [nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert all(module.p == 0.3 for module in net if isinstance(module, nn.Dropout))
    assert net.config == {"no_of_layers": 2, "input_dim": 784, "neurons_per_layer": [100, 50, 10], "dropout": 0.3}


def test_outputs_raw_logits_for_flat_or_square_images():
    net = helpers.init_network(1, 784, [32, 10], 0.0, device="cpu").eval()
    images = torch.randn(5, 1, 28, 28)
    logits = net(images)
    assert logits.shape == (5, 10)
    assert torch.equal(logits, net(images.flatten(1)))
    assert (logits < 0).any()  # no ReLU or softmax squeezes the output


def test_he_initialisation_of_hidden_layers_and_zero_biases():
    torch.manual_seed(0)
    net = helpers.init_network(1, 2000, [1000, 10], 0.0, device="cpu")
    assert net.fc1.weight.std().item() == pytest.approx((2 / 2000) ** 0.5, rel=0.05)
    assert all(torch.count_nonzero(layer.bias) == 0 for layer in (net.fc1, net.fc2))


def test_zero_hidden_layers_is_a_linear_classifier():
    net = helpers.init_network(0, 784, [10], 0.0, device="cpu")
    assert net.size_table() == "Size of net(1).w = 784x10\nSize of net(1).b = 10"


@pytest.mark.parametrize(
    "arguments, message",
    [
        ((2, 784, [100, 10], 0.2), "neurons_per_layer must be a list of no_of_layers \\+ 1 = 3 sizes"),
        ((2, 784, [100, 0, 10], 0.2), "neurons_per_layer\\[1\\]"),
        ((2, 0, [100, 50, 10], 0.2), "input_dim"),
        ((-1, 784, [10], 0.2), "no_of_layers"),
        ((2, 784, [100, 50, 10], 1.0), "dropout must be a probability in \\[0, 1\\)"),
        ((2, 784, [100, 50, 10], -0.1), "dropout"),
        ((2, 784, [100, 50, 10], "0.2"), "dropout"),
    ],
)
def test_bad_arguments_explain_the_rule(arguments, message):
    with pytest.raises(ValueError, match=message) as caught:
        helpers.init_network(*arguments, device="cpu")
    assert "init_network(2, 784, [100, 50, 10], 0.2)" in str(caught.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpu_asked_without_cuda_warns_and_uses_the_cpu():
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        net = helpers.init_network(1, 784, [10, 10], 0.0, device="cuda")
    assert next(net.parameters()).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_moves_to_the_gpu_when_one_exists():
    net = helpers.init_network(1, 784, [10, 10], 0.0, device=True)
    assert next(net.parameters()).is_cuda


def test_resolve_device_choices():
    assert helpers.resolve_device(False) == torch.device("cpu")
    assert helpers.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device \(main's use_gpu\) must be"):
        helpers.resolve_device("quantum")


@pytest.mark.parametrize("has_cuda", [False, True])
def test_auto_picks_a_gpu_exactly_where_there_is_one_and_never_warns(monkeypatch, has_cuda):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: has_cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: int(has_cuda))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "auto" only picks what exists
        assert helpers.resolve_device("auto") == torch.device("cuda" if has_cuda else "cpu")
