"""The shipped model in saved_models/: small, safe to load, fully connected, and as good as its card says."""

import json

import pytest
import torch
from test_predict_image import SHIPPED
from torch import nn

import helpers


def test_is_a_small_plain_data_file_with_a_readable_card():
    assert SHIPPED.is_file(), "saved_models/ must hold the shipped model (scripts/train_shipped_model.py makes it)"
    assert SHIPPED.stat().st_size <= 25 * 2**20
    payload = torch.load(SHIPPED, weights_only=True)
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert card["config"] == payload["config"] and card["preprocessing"] == payload["preprocessing"]
    for key in ("data", "training", "results", "machine", "versions", "command"):
        assert key in card["metadata"]
    assert card["metadata"]["training"]["seconds"] <= 15 * 60


def test_is_fully_connected():
    net = helpers.load_network(SHIPPED, "cpu")
    assert {type(module) for module in net} <= {nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout}


def test_reproduces_the_test_accuracy_on_its_card(mnist_root):
    net = helpers.load_network(SHIPPED, "cpu")
    recorded = net.metadata["results"]["test"]["accuracy"]
    _, _, test = helpers.loadDataset(
        mnist_root, 100, 100, 10_000, 256, device="cpu", download=False, preprocessing=net.preprocessing
    )
    assert helpers._evaluate(net, test.x, test.y)[1] == pytest.approx(recorded, abs=1e-4)
    assert recorded >= 0.99
