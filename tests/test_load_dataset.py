"""Step 1: loadDataset finds MNIST in every form, draws disjoint seeded subsets and normalises them."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torchvision.transforms.v2 import functional as TF

import helpers
from conftest import N_TEST, N_TRAIN, idx_bytes, write_idx_folder


def as_sorted_pairs(images, labels):
    "The (label, pixels) pairs of a dataset, in an order that does not depend on how it was stored."
    return sorted(zip(labels.tolist(), (image.numpy().tobytes() for image in images)))


def test_reads_every_layout_to_the_same_data(idx_root, gz_root, image_folder_root):
    plain, gzipped, folders = (helpers._read_mnist(root) for root in (idx_root, gz_root, image_folder_root))
    for split in ("train", "test"):
        assert all(torch.equal(a, b) for a, b in zip(plain[split], gzipped[split]))
        assert as_sorted_pairs(*folders[split]) == as_sorted_pairs(*plain[split])
    assert plain["train"][0].shape == (N_TRAIN, 28, 28) and plain["test"][1].shape == (N_TEST,)
    train, _, test = helpers.loadDataset(image_folder_root, 200, 50, 60, 16, device="cpu")
    assert train.x.shape == (200, 784) and len(test.y) == 60


def test_subset_sizes_and_types(tiny_loaders):
    train, valid, test = tiny_loaders
    assert (len(train.y), len(valid.y), len(test.y)) == (200, 100, 100)
    assert train.x.shape == (200, 784) and train.x.dtype == torch.float32 and train.y.dtype == torch.long
    for loader in tiny_loaders:
        assert isinstance(loader.dataset, torch.utils.data.Subset)
        assert len(loader.dataset) == len(loader.y)


def test_train_and_validation_are_disjoint_and_seeded(idx_root):
    train, valid, _ = helpers.loadDataset(idx_root, 150, 150, 10, 32, seed=3, device="cpu")
    assert not set(train.dataset.indices) & set(valid.dataset.indices)
    assert len(set(train.dataset.indices) | set(valid.dataset.indices)) == N_TRAIN
    again, _, _ = helpers.loadDataset(idx_root, 150, 150, 10, 32, seed=3, device="cpu")
    other, _, _ = helpers.loadDataset(idx_root, 150, 150, 10, 32, seed=4, device="cpu")
    assert again.dataset.indices == train.dataset.indices
    assert other.dataset.indices != train.dataset.indices


def test_full_test_set_keeps_its_order(idx_root):
    _, _, test = helpers.loadDataset(idx_root, 10, 10, N_TEST, 8, device="cpu")
    assert test.dataset.indices == list(range(N_TEST))


def test_normalised_to_zero_mean_and_half_variance_on_the_training_subset(tiny_loaders):
    train, valid, test = tiny_loaders
    assert train.x.mean().item() == pytest.approx(0, abs=1e-5)
    assert train.x.var(unbiased=False).item() == pytest.approx(0.5, rel=1e-4)
    # validation and test reuse the training constants instead of measuring their own
    assert valid.preprocessing is train.preprocessing is test.preprocessing
    raw_valid = valid.dataset.dataset.tensors[0][valid.dataset.indices]
    assert torch.allclose(valid.x, train.preprocessing(raw_valid))


def test_given_preprocessing_is_applied_not_refitted(idx_root):
    fixed = helpers.Preprocessing(image_size=14, mean=0.5, std=0.25)
    train, _, _ = helpers.loadDataset(idx_root, 100, 10, 10, 8, device="cpu", preprocessing=fixed)
    assert train.preprocessing == fixed and train.x.shape[1] == 14 * 14
    raw = train.dataset.dataset.tensors[0][train.dataset.indices]
    assert torch.allclose(train.x, ((fixed.scale(raw) - 0.5) / 0.25 * 0.5**0.5).flatten(1))


@pytest.mark.parametrize("size", [14, 20, 32])
def test_image_size_resizes(idx_root, size):
    train, valid, test = helpers.loadDataset(idx_root, 50, 20, 20, 8, image_size=size, device="cpu")
    assert train.x.shape == (50, size * size) and test.x.shape == (20, size * size)
    assert train.preprocessing.image_size == size
    assert train.x.var(unbiased=False).item() == pytest.approx(0.5, rel=1e-4)


@pytest.mark.parametrize("size", [14, 20, 32])
def test_resizing_matches_torchvision(size):
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    expected = TF.resize(images.float().unsqueeze(1) / 255, [size, size], antialias=True).squeeze(1)
    assert torch.allclose(helpers.Preprocessing(size).scale(images), expected, atol=1e-6)


def test_scaling_in_chunks_matches_one_pass():
    images = torch.randint(0, 256, (10, 28, 28), dtype=torch.uint8)
    for size in (20, 28):
        preprocessing = helpers.Preprocessing(size)
        assert torch.equal(preprocessing.scale(images, chunk_size=3), preprocessing.scale(images, chunk_size=100))


def test_scaling_accepts_a_channel_axis_and_refuses_other_shapes():
    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    preprocessing = helpers.Preprocessing(28)
    assert torch.equal(preprocessing.scale(images.unsqueeze(1)), preprocessing.scale(images))
    with pytest.raises(ValueError, match=r"images must be shaped \[N, H, W\] or \[N, 1, H, W\], got \[28, 28\]"):
        preprocessing.scale(images[0])


def test_loading_data_does_not_import_torchvision(idx_root):
    # importing torchvision costs ~160 MB of memory; it is needed only to download MNIST
    script = (
        "import sys, helpers; helpers.loadDataset(sys.argv[1], 10, 10, 10, 8, device='cpu'); "
        "print('torchvision' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(idx_root)],
        capture_output=True,
        text=True,
        cwd=Path(helpers.__file__).parent,
        check=True,
        timeout=300,
    )
    assert result.stdout.strip() == "False"


def test_batches_cover_the_subset_and_only_training_shuffles(tiny_loaders):
    train, valid, _ = tiny_loaders
    batches = list(train)
    assert len(batches) == len(train) == 7  # ceil(200 / 32)
    assert sum(len(labels) for _, labels in batches) == 200
    assert sorted(torch.cat([labels for _, labels in batches]).tolist()) == sorted(train.y.tolist())
    assert not torch.equal(torch.cat([labels for _, labels in batches]), train.y)
    assert torch.equal(torch.cat([images for images, _ in valid]), valid.x)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(train_size=0), "train_size"),
        (dict(val_size=-5), "val_size"),
        (dict(test_size=2.5), "test_size"),
        (dict(batch_size=0), "batch_size"),
        (dict(image_size=0), "image_size"),
        (dict(train_size=N_TRAIN, val_size=1), "train_size \\+ val_size must be at most 300"),
        (dict(test_size=N_TEST + 1), "test_size must be at most 100"),
    ],
)
def test_bad_sizes_are_refused_with_the_argument_named(idx_root, arguments, message):
    sizes = dict(train_size=100, val_size=50, test_size=50, batch_size=8) | arguments
    with pytest.raises(ValueError, match=message):
        helpers.loadDataset(idx_root, device="cpu", **sizes)


def test_truncated_file_is_refused_with_its_name(idx_root):
    file = idx_root / "train-images-idx3-ubyte"
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: truncated"):
        helpers.loadDataset(idx_root, 10, 10, 10, 8, device="cpu")


def test_wrong_magic_is_refused_with_its_name(idx_root):
    file = idx_root / "t10k-labels-idx1-ubyte"
    file.write_bytes(b"\x00\x00\x08\x03" + file.read_bytes()[4:])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte: not an IDX labels file"):
        helpers.loadDataset(idx_root, 10, 10, 10, 8, device="cpu")


def test_broken_gzip_is_refused_with_its_name(gz_root):
    file = gz_root / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    file.write_bytes(gzip.compress(b"0123456789" * 10)[:20])
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: cannot be read"):
        helpers.loadDataset(gz_root, 10, 10, 10, 8, device="cpu")


def test_partial_data_names_the_missing_files(idx_root):
    (idx_root / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        helpers.loadDataset(idx_root, 10, 10, 10, 8, device="cpu")


def test_image_folder_without_digit_subfolders(tmp_path):
    for split in ("train", "test"):
        (tmp_path / split / "cats").mkdir(parents=True)
    with pytest.raises(ValueError, match="expected subfolders named 0 … 9"):
        helpers.loadDataset(tmp_path, 10, 10, 10, 8, device="cpu")


def test_missing_data_offline_names_folder_and_files(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise RuntimeError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)  # _read_mnist imports it only to download
    with pytest.raises(FileNotFoundError) as caught:
        helpers.loadDataset(tmp_path / "nothing", 10, 10, 10, 8, device="cpu")
    message = str(caught.value)
    assert str(tmp_path / "nothing") in message and "train-images-idx3-ubyte" in message
    assert str(tmp_path / "nothing" / "MNIST" / "raw") in message  # every place it looked
    assert "network is unreachable" in message


def test_no_download_when_asked_not_to(tmp_path):
    with pytest.raises(FileNotFoundError, match="No MNIST found"):
        helpers.loadDataset(tmp_path, 10, 10, 10, 8, device="cpu", download=False)


def test_reads_a_read_only_folder_and_writes_nothing_there(gz_root):
    files_before = sorted(path for path in gz_root.rglob("*"))
    for path in files_before + [gz_root]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        helpers.loadDataset(gz_root, 50, 50, 50, 8, device="cpu")
        assert sorted(path for path in gz_root.rglob("*")) == files_before
    finally:
        for path in files_before + [gz_root]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_cached_decoding_notices_a_changed_file(tmp_path):
    write_idx_folder(tmp_path)
    first, _, _ = helpers.loadDataset(tmp_path, 10, 10, 10, 8, device="cpu")
    labels = tmp_path / "train-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[8:] = bytes([7]) * (len(data) - 8)
    labels.write_bytes(bytes(data))
    os.utime(labels, ns=(1, 1))  # a different stamp even on coarse-grained file systems
    changed, _, _ = helpers.loadDataset(tmp_path, 10, 10, 10, 8, device="cpu")
    assert set(changed.y.tolist()) == {7} != set(first.y.tolist())


def test_real_mnist_layout(mnist_root):
    train, valid, test = helpers.loadDataset(mnist_root, 1000, 1000, 10_000, 64, device="cpu", download=False)
    assert test.x.shape == (10_000, 784)
    assert len(train.dataset.dataset) == 60_000
    assert train.x.var(unbiased=False).item() == pytest.approx(0.5, rel=1e-4)


def test_each_call_loads_its_own_data_the_same_way(idx_root):
    first = helpers.loadDataset(idx_root, 150, 50, 20, 32, device="cpu")
    again = helpers.loadDataset(idx_root, 150, 50, 20, 64, device="cpu")  # another batch size: the same data
    assert all(torch.equal(a.x, b.x) and a.x is not b.x for a, b in zip(first, again))  # no state shared
    first[0].x.zero_()  # a caller's change to one call's data leaves the next call's alone
    assert not torch.equal(helpers.loadDataset(idx_root, 150, 50, 20, 32, device="cpu")[0].x, first[0].x)
    assert again[0].batch_size == 64 and len(again[0]) == 3
    other = helpers.Preprocessing(28, mean=0.5, std=0.25)
    renormalised = helpers.loadDataset(idx_root, 150, 50, 20, 32, device="cpu", preprocessing=other)
    assert renormalised[0].preprocessing == other and not torch.equal(renormalised[0].x, again[0].x)
    refitted = helpers.loadDataset(idx_root, 150, 50, 20, 32, device="cpu")  # fitted again, not `other`
    assert refitted[0].preprocessing == again[0].preprocessing and torch.equal(refitted[0].x, again[0].x)
    resplit = helpers.loadDataset(idx_root, 150, 50, 20, 32, device="cpu", seed=1)
    assert not torch.equal(resplit[0].y, again[0].y)


def test_preprocessing_scales_then_normalises_with_its_own_figures():
    images = torch.tensor([[[0, 51], [102, 255]]], dtype=torch.uint8)
    preprocessing = helpers.Preprocessing(2, mean=0.2, std=0.4)
    expected = (torch.tensor([[0.0, 0.2, 0.4, 1.0]]) - 0.2) * (0.5**0.5 / 0.4)
    assert torch.allclose(preprocessing(images), expected, atol=1e-6)
    assert torch.allclose(preprocessing(images.float() / 255), expected, atol=1e-6)  # [0, 1] floats alike


def test_a_loader_describes_itself(tiny_loaders):
    assert repr(tiny_loaders[0]) == "TensorLoader(200 images of 28x28, batch_size=32, shuffle=True, device=cpu)"


def test_image_folders_take_their_labels_from_the_folder_names(tmp_path):
    for digit in (3, 7):
        (tmp_path / str(digit)).mkdir()
        Image.fromarray(np.full((28, 28), 20 * digit, np.uint8)).save(tmp_path / str(digit) / "a.png")
    images, labels = helpers._read_image_folder(tmp_path)
    assert labels.tolist() == [3, 7] and images[1, 0, 0] == 140


def test_preprocessing_refuses_pixels_in_neither_convention():
    "uint8 levels 0-255, or floats in [0, 1]: float levels of 0-255 would be read as 255 times too bright."
    preprocessing = helpers.Preprocessing(28, mean=0.13, std=0.3)
    levels = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    assert torch.equal(preprocessing(levels), preprocessing(levels / 255))
    with pytest.raises(ValueError, match=r"images must hold uint8 levels 0-255 or floats in \[0, 1\], got floats from"):
        preprocessing(levels.float())
    with pytest.raises(ValueError, match="levels 0-255\\? divide by 255"):
        preprocessing(levels.float())
    with pytest.raises(ValueError, match="got torch.int64"):
        preprocessing(levels.long())
    nan = levels / 255
    nan[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="got floats from"):
        preprocessing(nan)


@pytest.mark.parametrize("field, value", [("std", 0.0), ("std", -1.0), ("mean", float("nan")), ("target_variance", 0)])
def test_preprocessing_refuses_constants_that_cannot_normalise(field, value):
    with pytest.raises(ValueError, match=rf"{field} must be a number"):
        helpers.Preprocessing(28, **{field: value})


def test_an_idx_file_of_images_without_pixels_is_refused_with_its_name(idx_root):
    (idx_root / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((300, 0, 0), np.uint8), "images"))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: its header promises images of 0x0 pixels"):
        helpers.loadDataset(idx_root, 100, 50, 20, 16, device="cpu")


def test_a_loader_refuses_images_and_labels_that_do_not_pair():
    x, y = torch.rand(256, 784), torch.arange(256) % 10
    with pytest.raises(ValueError, match="x and y must hold the same number of samples, at least one; got 256 and 200"):
        helpers.TensorLoader(x, y[:200], 32)
    with pytest.raises(ValueError, match="x holds torch.uint8 values"):
        helpers.TensorLoader((x * 255).to(torch.uint8), y, 32)
    with pytest.raises(ValueError, match="y must hold labels 0 … 9"):
        helpers.TensorLoader(x, y + 5, 32)
