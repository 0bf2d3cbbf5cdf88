"""The whole chain on the real MNIST (60,000 / 10,000 images from MNIST_ROOT): the assignment's net learns it."""

import torch

import helpers


def test_assignment_network_reaches_97_percent_on_the_real_test_set(mnist_root, tmp_path):
    train, valid, test = helpers.loadDataset(mnist_root, 50_000, 10_000, 10_000, 128, device="cpu", download=False)
    torch.manual_seed(0)
    net = helpers.init_network(2, 784, [100, 50, 10], 0.2, device="cpu")
    net, loss_array, accuracy_array = helpers.train(
        net,
        train.x,
        train.y,
        valid.x,
        valid.y,
        3e-3,
        8,
        "cross_entropy",
        "adam",
        batch_size=128,
        schedule="onecycle",
        progress=False,
    )
    assert max(accuracy_array["valid"]) >= 0.97
    path = helpers.save_network(net, tmp_path / "model.pt", preprocessing=train.preprocessing)
    pred = helpers.test(helpers.init_network(2, 784, [100, 50, 10], 0.2, device="cpu"), path, test.x, test.y)
    assert (pred == test.y).float().mean().item() >= 0.97
