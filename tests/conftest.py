"""Shared fixtures: tiny synthetic MNIST in every form loadDataset reads, and the real MNIST where MNIST_ROOT is set."""

import gzip
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import helpers  # noqa: E402  (the notebook's exported functions)

N_TRAIN, N_TEST = 300, 100


def synthetic_digits(count, seed):
    """Learnable but overlapping 28x28 uint8 'digits', so that training matters and accuracy rises over epochs.

    Class k brightens a jittered 6x6 block at a position of its own; every image also carries a dimmer block at
    another class's position, over strong noise. A small net goes from about 0.6 to about 0.8 validation accuracy
    in a few epochs and never reaches 1.0, so thresholds tell a working implementation from a broken one.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 110, size=(count, 28, 28))
    for image, label in zip(images, labels):
        distractor = (label + rng.integers(1, 10)) % 10
        for digit, (low, high) in ((label, (70, 200)), (distractor, (40, 150))):
            row_shift, column_shift = rng.integers(-2, 3, size=2)
            row = min(max(3 + 8 * (digit // 4) + row_shift, 0), 22)
            column = min(max(2 + 6 * (digit % 4) + column_shift, 0), 22)
            image[row : row + 6, column : column + 6] += rng.integers(low, high, size=(6, 6))
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def idx_bytes(array, kind):
    "Serialise a uint8 array as an IDX file (magic 0x0803 for images, 0x0801 for labels)."
    magic = helpers._IDX_MAGIC[kind]
    header = magic.to_bytes(4, "big") + b"".join(dim.to_bytes(4, "big") for dim in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_folder(folder, compressed=False):
    "Write the four IDX files into `folder`, gzipped or not; return the arrays written."
    folder.mkdir(parents=True, exist_ok=True)
    data = {"train": synthetic_digits(N_TRAIN, 1), "test": synthetic_digits(N_TEST, 2)}
    for (split, kind), name in helpers._IDX_FILES.items():
        payload = idx_bytes(data[split][0 if kind == "images" else 1], kind)
        if compressed:
            (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (folder / name).write_bytes(payload)
    return data


@pytest.fixture
def idx_root(tmp_path):
    "A folder holding the four plain IDX files directly."
    write_idx_folder(tmp_path / "idx")
    return tmp_path / "idx"


@pytest.fixture
def gz_root(tmp_path):
    "A folder in torchvision's layout (MNIST/raw) holding only the gzipped IDX files."
    write_idx_folder(tmp_path / "tv" / "MNIST" / "raw", compressed=True)
    return tmp_path / "tv"


@pytest.fixture
def image_folder_root(tmp_path):
    "The assignment's original layout: train/<digit>/*.png and test/<digit>/*.png."
    root = tmp_path / "images"
    for split, (images, labels) in {"train": synthetic_digits(N_TRAIN, 1), "test": synthetic_digits(N_TEST, 2)}.items():
        for index, (image, label) in enumerate(zip(images, labels)):
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{index:05d}.png")
    return root


@pytest.fixture
def tiny_loaders(idx_root):
    "Train 200 / validation 100 / test 100 loaders on the CPU."
    return helpers.loadDataset(idx_root, 200, 100, 100, 32, device="cpu")


@pytest.fixture
def trained_tiny(tiny_loaders):
    "A small network (one hidden layer, dropout) trained 3 epochs on tiny_loaders: (net, its history)."
    train, valid, _ = tiny_loaders
    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [32, 10], 0.1, device="cpu")
    net, loss_array, accuracy_array = helpers.train(
        net, train.x, train.y, valid.x, valid.y, 3e-3, 3, "cross_entropy", "adam", batch_size=32, progress=False
    )
    return net, {"loss": loss_array, "accuracy": accuracy_array}


@pytest.fixture(scope="session")
def mnist_root():
    "The real MNIST named by MNIST_ROOT; tests that need it are skipped where it is unset."
    root = os.environ.get("MNIST_ROOT")
    if not root:
        pytest.skip("MNIST_ROOT is not set: point it at a folder holding MNIST (e.g. MNIST_ROOT=../shared/mnist)")
    return Path(root)
