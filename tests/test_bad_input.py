"""Bad input: nothing saved is lost, images are read as they are meant, and refusals name their cause."""

import json
import os
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import helpers


@pytest.fixture
def net():
    torch.manual_seed(0)
    return helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")


def digit_seven(size=28):
    "An upright, asymmetric 'digit' (a 7): turning it sideways changes it."
    image = np.zeros((size, size), np.uint8)
    image[5:8, 6:22] = 255  # the top bar
    for row in range(8, 24):  # the diagonal stroke
        column = 21 - (row - 8) // 2
        image[row, column - 1 : column + 2] = 255
    return image


# ---------------------------------------------------------------- nothing saved is lost


def test_a_model_path_ending_in_json_is_refused(net, tmp_path):
    with pytest.raises(ValueError, match="path must not end in .json"):
        helpers.save_network(net, tmp_path / "weights.json")
    assert list(tmp_path.iterdir()) == []


def test_a_file_at_the_cards_name_that_is_not_a_card_is_kept(net, tmp_path):
    notes = tmp_path / "model.json"
    notes.write_text('{"my": "notes"}')
    with pytest.raises(FileExistsError, match="model.json exists and is not a model card"):
        helpers.save_network(net, tmp_path / "model.pt")
    assert notes.read_text() == '{"my": "notes"}' and not (tmp_path / "model.pt").exists()


def test_a_json_file_of_another_format_at_the_cards_name_is_kept(net, tmp_path):
    (tmp_path / "model.json").write_text('{"format": "someone-else/2"}')
    with pytest.raises(FileExistsError, match="is not a model card"):
        helpers.save_network(net, tmp_path / "model.pt")
    assert (tmp_path / "model.json").read_text() == '{"format": "someone-else/2"}'


def test_an_earlier_card_is_replaced_with_its_model(net, tmp_path):
    helpers.save_network(net, tmp_path / "model.pt", metadata={"run": 1})
    helpers.save_network(net, tmp_path / "model.pt", metadata={"run": 2})
    assert json.loads((tmp_path / "model.json").read_text())["metadata"]["run"] == 2
    assert helpers.load_network(tmp_path / "model.pt", "cpu").metadata["run"] == 2


def test_a_failed_card_write_leaves_the_previous_pair_intact(net, tmp_path, monkeypatch):
    path = helpers.save_network(net, tmp_path / "model.pt", metadata={"run": 1})
    before = path.read_bytes(), path.with_suffix(".json").read_bytes()
    real_dumps = helpers.json.dumps
    monkeypatch.setattr(helpers.json, "dumps", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        helpers.save_network(net, path, metadata={"run": 2})
    monkeypatch.setattr(helpers.json, "dumps", real_dumps)
    assert (path.read_bytes(), path.with_suffix(".json").read_bytes()) == before
    assert sorted(file.name for file in tmp_path.iterdir()) == ["model.json", "model.pt"]  # no temporary left


# ---------------------------------------------------------------- images read as they are meant


def test_a_phone_photo_with_an_exif_rotation_is_read_upright(tmp_path):
    upright = digit_seven(112)
    stored = Image.fromarray(255 - upright).transpose(Image.Transpose.ROTATE_90)  # the sensor's orientation
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": what phones write for a portrait photo
    stored.convert("RGB").save(tmp_path / "photo.jpg", quality=95, exif=exif)
    read = helpers.image_to_mnist(helpers.read_image(tmp_path / "photo.jpg"))
    expected = helpers.image_to_mnist(255 - upright)
    sideways = helpers.image_to_mnist(np.asarray(stored, dtype=np.float64))
    assert np.abs(read - expected).mean() < 0.02 < np.abs(sideways - expected).mean()


def test_a_16_bit_png_keeps_its_levels(tmp_path):
    deep = (digit_seven().astype(np.uint16) // 255) * 39_000 + 1_000  # every level above 255: 8 bits clip all to white
    Image.fromarray(deep).save(tmp_path / "deep.png")  # uint16: mode I;16
    pixels = helpers.read_image(tmp_path / "deep.png")
    assert pixels.max() == pytest.approx(40_000 / 257) and pixels.min() == pytest.approx(1_000 / 257)  # not rounded
    assert np.abs(helpers.image_to_mnist(pixels) - helpers.image_to_mnist(digit_seven())).mean() < 0.02


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_a_digit_drawn_only_in_the_alpha_channel_is_found(tmp_path, mode):
    ink = digit_seven()
    layers = [np.zeros_like(ink)] * (3 if mode == "RGBA" else 1) + [ink]  # black ink, transparent paper
    Image.fromarray(np.stack(layers, axis=2)).save(tmp_path / "drawing.png")  # 4 layers: RGBA, 2: LA
    read = helpers.image_to_mnist(helpers.read_image(tmp_path / "drawing.png"))
    assert np.abs(read - helpers.image_to_mnist(ink)).mean() < 0.02


def test_a_palette_image_with_a_transparent_background(tmp_path):
    image = Image.fromarray(255 - digit_seven()).convert("P")
    image.info["transparency"] = image.getpixel((0, 0))  # the paper's palette entry is transparent
    image.save(tmp_path / "palette.png", transparency=image.getpixel((0, 0)))
    read = helpers.image_to_mnist(helpers.read_image(tmp_path / "palette.png"))
    assert np.abs(read - helpers.image_to_mnist(digit_seven())).mean() < 0.02


def test_image_folders_keep_the_shape_of_non_square_images(tmp_path):
    wide = np.zeros((28, 56), np.uint8)
    wide[10:18, 4:52] = 255  # a long horizontal bar: squashed to 28x28 it would fill the width at full height
    for split in ("train", "test"):
        (tmp_path / split / "1").mkdir(parents=True)
        Image.fromarray(wide).save(tmp_path / split / "1" / "wide.png")
    images, _ = helpers._read_image_folder(tmp_path / "train")
    rows = np.nonzero(images[0].numpy().max(axis=1) > 0)[0]
    assert images.shape == (1, 28, 28) and len(rows) <= 6  # half the bar's height: the aspect ratio is kept


def folder_images(tmp_path, files):
    "_read_image_folder's images of `files` {name: PIL image}, all saved under digit 7."
    (tmp_path / "7").mkdir(parents=True)
    for name, image in files.items():
        image.save(tmp_path / "7" / name)
    images, _ = helpers._read_image_folder(tmp_path)
    return dict(zip(sorted(files), images.numpy().astype(np.int64)))


def test_training_folders_decode_images_as_predict_image_does(tmp_path):
    ink = digit_seven()
    page = np.zeros((28, 84), np.uint8)
    page[:, 28:56] = ink  # the digit in the middle of a wide page
    read = folder_images(
        tmp_path,
        {
            "a_plain.png": Image.fromarray(ink),
            "b_16_bit.png": Image.fromarray(ink.astype(np.uint16) * 257),  # levels 0-65535
            "b_16_bit_8_bit_levels.png": Image.fromarray(ink.astype(np.uint16)),  # a 16-bit file holding 0-255
            "c_alpha.png": Image.fromarray(np.stack([np.zeros_like(ink)] * 3 + [ink], axis=2)),  # black ink in alpha
            "d_wide.png": Image.fromarray(page),
            "e_large.png": Image.fromarray(255 - digit_seven(112)),  # black on white, four times larger
        },
    )
    assert np.array_equal(read["b_16_bit.png"], read["a_plain.png"])  # 28x28 images are taken as they are
    assert np.array_equal(read["b_16_bit_8_bit_levels.png"], read["a_plain.png"])
    assert np.array_equal(read["c_alpha.png"], read["a_plain.png"])
    mnist_form = np.round(helpers.image_to_mnist(ink) * 255)  # other sizes: brought to MNIST's form
    for name in ("d_wide.png", "e_large.png"):
        assert np.abs(read[name] - mnist_form).mean() < 8, name


def test_a_blank_image_in_a_training_folder_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"7[/\\]blank.png: no digit found"):
        folder_images(tmp_path, {"blank.png": Image.fromarray(np.full((40, 40), 255, np.uint8))})


def test_a_channel_first_array_is_read_as_the_image_it_is():
    ink = digit_seven()
    expected = helpers.image_to_mnist(ink)
    for array in (ink[None], np.stack([ink] * 3), torch.from_numpy(ink)[None].float() / 255):
        assert np.abs(helpers.image_to_mnist(array) - expected).mean() < 0.01


def test_entry_points_refuse_what_they_cannot_use_by_name(net, tmp_path):
    Image.fromarray(digit_seven()).save(tmp_path / "seven.png")
    with pytest.raises(ValueError, match=r"net must be a network .* got NoneType"):
        helpers.predict_image(tmp_path / "seven.png", None)
    with pytest.raises(ValueError, match=r"path must be a folder .* got None"):
        helpers.loadDataset(None, 10, 10, 10, 8)
    with pytest.raises(ValueError, match=r"image_size must be an integer >= 1, got 0"):
        helpers.Preprocessing(image_size=0)
    empty_x, empty_y = torch.zeros(0, 784), torch.zeros(0, dtype=torch.long)
    for scoring in (helpers._evaluate, helpers.score):
        with pytest.raises(ValueError, match=r"x and y must hold the same number of samples, at least one; got 0"):
            scoring(net, empty_x, empty_y)


def test_an_empty_folder_is_refused_by_name(net, tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"source holds no images: .*tmp"):
        helpers.predict_image(tmp_path, net)


# ---------------------------------------------------------------- refusals that name their cause


def data(n=40, width=784, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, width, generator=generator), torch.arange(n) % 10


def train_with(net, **changes):
    x, y = data()
    arguments = dict(
        train_set_x=x,
        train_set_y=y,
        valid_set_x=x,
        valid_set_y=y,
        learning_rate=1e-3,
        training_epochs=1,
        loss_func="cross_entropy",
        optimizer="adam",
        batch_size=8,
        progress=False,
    )
    return helpers.train(net, **{**arguments, **changes})


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(train_set_x=data()[0].numpy().astype(np.uint8)), "train_set_x holds torch.uint8 values: pass normalised"),
        (
            dict(train_set_x=data(width=100)[0]),
            r"train_set_x must be shaped \[N, 784\] for this network, got \[40, 100\]",
        ),
        (dict(valid_set_x=data()[0][0]), r"valid_set_x must be shaped \[N, 784\].*one image\? pass x\[None\]"),
        (dict(train_set_x=data()[0].index_fill(0, torch.tensor([3]), float("nan"))), "train_set_x holds NaN"),
        (
            dict(valid_set_x=data()[0].index_fill(0, torch.tensor([3]), float("inf"))),
            "valid_set_x holds NaN or infinite",
        ),
        (dict(train_set_y=torch.arange(40) % 10 + 5), r"train_set_y must hold labels 0 … 9 .*from 5 to 14"),
        (dict(valid_set_y=torch.full((40,), -100)), r"valid_set_y must hold labels 0 … 9"),
        (dict(train_set_y=(torch.arange(40) % 10).float()), "train_set_y must be a 1-D tensor of integer labels"),
        (dict(train_set_x="images"), "train_set_x must be a tensor or NumPy array"),
        (dict(learning_rate=True), "learning_rate must be a number above 0, got True"),
        (dict(learning_rate=0), "learning_rate must be a number above 0, got 0"),
        (
            dict(train_set_y=torch.arange(39) % 10),
            "train_set_x and train_set_y must hold the same number of samples, at least one",
        ),
        (
            dict(valid_set_x=data()[0][:0], valid_set_y=data()[1][:0]),
            "valid_set_x and valid_set_y must hold the same number of samples, at least one",
        ),
        (dict(learning_rate=float("nan")), "learning_rate must be a number above 0"),
        (dict(learning_rate="0.1"), "learning_rate must be a number above 0"),
    ],
)
def test_training_refuses_bad_arguments_by_name(net, changes, message):
    with pytest.raises(ValueError, match=message):
        train_with(net, **changes)


def test_training_accepts_numpy_arrays_and_numbers(net):
    x, y = data()
    trained, losses, _ = train_with(
        net,
        train_set_x=x.numpy(),
        train_set_y=y.numpy(),
        valid_set_x=x.double(),
        valid_set_y=y.tolist(),
        learning_rate=np.float32(1e-3),
        batch_size=np.int64(8),
    )
    assert len(losses["train"]) == 1


def test_a_diverging_run_is_stopped_and_says_so(net):
    with pytest.raises(
        FloatingPointError, match=r"training diverged: the loss rose from .* try a smaller learning_rate"
    ):
        train_with(net, learning_rate=1e6, training_epochs=3)


@pytest.mark.parametrize("not_a_net", [None, "model.pt", torch.nn.ReLU()])
def test_a_wrong_object_as_net_is_refused(not_a_net):
    with pytest.raises(ValueError, match="net must be a network from init_network"):
        train_with(not_a_net)


def test_prediction_refuses_raw_pixels_and_wrong_widths_by_name(net):
    with pytest.raises(ValueError, match="x holds torch.uint8 values"):
        helpers.predict_proba(net, torch.zeros(2, 784, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"test_set_x must be shaped \[N, 784\]"):
        helpers.test(net, None, torch.zeros(2, 400))
    assert helpers.predict_proba(net, np.zeros((2, 28, 28), np.float32)).shape == (2, 10)  # NumPy, square: fine


def test_model_files_with_nan_weights_or_zero_std_are_refused(net, tmp_path):
    net.preprocessing = helpers.Preprocessing(28, mean=0.1, std=0.3)
    payload = torch.load(helpers.save_network(net, tmp_path / "flat.pt"), weights_only=True)
    torch.save({**payload, "preprocessing": {"image_size": 28, "mean": 0.1, "std": 0.0}}, tmp_path / "flat.pt")
    with pytest.raises(ValueError, match="flat.pt'.*preprocessing is refused: std must be a number above 0, got 0.0"):
        helpers.load_network(tmp_path / "flat.pt", "cpu")
    net.preprocessing = helpers.Preprocessing(28, mean=0.1, std=0.3)
    with torch.no_grad():
        net.fc1.weight[0, 0] = float("nan")
    helpers.save_network(net, tmp_path / "nan.pt")
    with pytest.raises(ValueError, match="nan.pt'.*weights hold NaN"):
        helpers.load_network(tmp_path / "nan.pt", "cpu")


def test_idx_labels_outside_0_to_9_are_refused_with_the_file(tmp_path):
    header = helpers._IDX_MAGIC["labels"].to_bytes(4, "big") + (3).to_bytes(4, "big")
    (tmp_path / "labels").write_bytes(header + bytes([1, 2, 12]))
    with pytest.raises(ValueError, match="labels: labels must be digits 0-9, found 12"):
        helpers._read_idx(tmp_path / "labels", "labels")


def test_all_blank_training_images_are_refused():
    with pytest.raises(ValueError, match="standard deviation 0"):
        helpers.Preprocessing.fit(torch.zeros(10, 28, 28), 28)


def test_main_never_trains_over_the_shipped_model_unless_told(idx_root, tmp_path, monkeypatch):
    shipped = helpers.Path(helpers.__file__).parent / helpers.SETTINGS.model_path
    before = shipped.stat().st_mtime_ns if shipped.exists() else None
    monkeypatch.setattr(helpers, "SETTINGS", helpers.SETTINGS.replace(runs_dir=str(tmp_path / "runs")))
    for unset in ({}, {"model_path": None}):  # left out, or None as a command line passes it
        helpers.main(
            idx_root,
            200,
            50,
            50,
            1,
            [16, 10],
            is_training=True,
            training_epochs=1,
            use_gpu="cpu",
            progress=False,
            show=False,
            **unset,
        )
        assert (tmp_path / "runs" / "mnist_mlp.pt").is_file() and (tmp_path / "runs" / "mnist_mlp.json").is_file()
        (tmp_path / "runs" / "mnist_mlp.pt").unlink()
    assert (shipped.stat().st_mtime_ns if shipped.exists() else None) == before


def test_idx_files_with_more_images_than_labels_are_refused_with_the_folder(tmp_path):
    import conftest

    conftest.write_idx_folder(tmp_path)
    name = helpers._IDX_FILES[("train", "labels")]
    labels = (tmp_path / name).read_bytes()
    header = labels[:4] + (conftest.N_TRAIN - 1).to_bytes(4, "big")
    (tmp_path / name).write_bytes(header + labels[8:-1])
    with pytest.raises(
        ValueError, match=re.escape(f"{tmp_path}: {conftest.N_TRAIN} train images but {conftest.N_TRAIN - 1} labels")
    ):
        helpers._read_mnist(tmp_path)


# ---------------------------------------------------------------- files that lie about themselves


def png_claiming(path, width, height):
    "A valid 1x1 PNG whose header is rewritten to claim width x height (with a correct checksum)."
    import struct
    import zlib

    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", width, height)  # IHDR's width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # IHDR's CRC over its type and data
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [10_000, 50_000])  # PIL warns above 89 M pixels and refuses above 179 M
def test_an_image_claiming_an_enormous_size_is_refused_by_name(net, tmp_path, side):
    bomb = png_claiming(tmp_path / "bomb.png", side, side)
    with pytest.raises(
        ValueError, match=rf"cannot read '.*bomb.png' as an image \(Image size \({side * side} pixels\)"
    ):
        helpers.predict_image(bomb, net)


def test_an_enormous_image_in_a_training_folder_is_refused_by_name(tmp_path):
    (tmp_path / "3").mkdir()
    png_claiming(tmp_path / "3" / "bomb.png", 50_000, 50_000)
    with pytest.raises(ValueError, match=r"cannot read '.*3[/\\]bomb.png' as an image"):
        helpers._read_image_folder(tmp_path)


@pytest.mark.parametrize("where", ["predict", "folder"])
def test_a_truncated_image_is_refused_by_name(net, tmp_path, where):
    (tmp_path / "5").mkdir()
    path = tmp_path / "5" / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])  # the header survives, the pixels do not
    with pytest.raises(ValueError, match="cannot read '.*cut.png' as an image"):
        helpers.predict_image(path, net) if where == "predict" else helpers._read_image_folder(tmp_path)


def test_a_gzip_stream_corrupt_in_the_middle_is_refused_by_name(gz_root):
    name = helpers._IDX_FILES[("train", "images")]
    path = gz_root / "MNIST" / "raw" / f"{name}.gz"
    intact = path.read_bytes()
    for start in (10, len(intact) // 2):  # the first block's header (zlib's own error), then its middle
        path.write_bytes(intact[:start] + b"\xff" * 16 + intact[start + 16 :])  # the gzip header itself still reads
        helpers._decode_idx.cache_clear()
        with pytest.raises(ValueError, match=f"{name}.gz: cannot be read as gzip"):
            helpers._read_mnist(gz_root)


# ---------------------------------------------------------------- sizes that would ask for terabytes

needs_sysconf = pytest.mark.skipif(
    not hasattr(os, "sysconf"), reason="the memory check reads os.sysconf (not on Windows)"
)


@needs_sysconf
def test_a_network_larger_than_memory_is_refused_before_torch_tries():
    # petabytes: beyond any machine's address space, so even a broken check cannot make torch fill the memory
    with pytest.raises(MemoryError, match=r"neurons_per_layer \[1000000000000, 10\] would need [\d,.]+ GiB, more than"):
        helpers.init_network(1, 784, [10**12, 10], 0.1, device="cpu")


@needs_sysconf
def test_data_larger_than_memory_are_refused_before_anything_is_read(tmp_path):
    with pytest.raises(MemoryError, match=r"images of image_size 10000000x10000000 would need [\d,.]+ GiB"):
        helpers.loadDataset(
            tmp_path / "nothing here", 100, 100, 100, 10, image_size=10**7, device="cpu", download=False
        )


# ---------------------------------------------------------------- every legitimate value is welcome


def test_init_network_accepts_numpy_numbers_and_arrays():
    net = helpers.init_network(np.int64(2), np.int32(784), np.array([32, 16, 10]), np.float32(0.25), device="cpu")
    assert net.config == {"no_of_layers": 2, "input_dim": 784, "neurons_per_layer": [32, 16, 10], "dropout": 0.25}
    assert all(type(value) is int for value in net.config["neurons_per_layer"])


def test_load_dataset_accepts_numpy_sizes(idx_root):
    train, valid, test = helpers.loadDataset(
        idx_root, np.int64(100), np.int32(50), np.int64(20), np.int64(16), image_size=np.int64(14), device="cpu"
    )
    assert (len(train.y), len(valid.y), len(test.y), train.batch_size) == (100, 50, 20, 16) and train.x.shape[1] == 196


@pytest.mark.parametrize(
    "arguments, message",
    [
        ((-1, 784, [10], 0.1), "no_of_layers must be an integer >= 0, got -1"),
        ((1.5, 784, [32, 10], 0.1), "no_of_layers must be an integer >= 0, got 1.5"),
        ((1, 0, [32, 10], 0.1), "input_dim must be an integer >= 1, got 0"),
        ((1, 784, "32, 10", 0.1), "neurons_per_layer must be a list of no_of_layers \\+ 1 = 2 sizes"),
        ((1, 784, [32, 0], 0.1), r"neurons_per_layer\[1\] must be an integer >= 1, got 0"),
        ((1, 784, [32.0, 10], 0.1), r"neurons_per_layer\[0\] must be an integer >= 1, got 32.0"),
        ((1, 784, [32, 10], 1.0), r"dropout must be a probability in \[0, 1\), got 1.0"),
        ((1, 784, [32, 10], float("nan")), r"dropout must be a probability in \[0, 1\), got nan"),
        ((1, 784, [32, 10], "0.2"), r"dropout must be a probability in \[0, 1\), got '0.2'"),
        ((1, 784, [32, 10], np.bool_(True)), r"dropout must be a probability in \[0, 1\), got (np\.)?True"),
    ],
)
def test_init_network_refuses_by_name(arguments, message):
    with pytest.raises(ValueError, match=message):
        helpers.init_network(*arguments, device="cpu")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(train_size=0), "train_size must be an integer >= 1, got 0"),
        (dict(val_size=2.5), "val_size must be an integer >= 1, got 2.5"),
        (dict(test_size="10"), "test_size must be an integer >= 1, got '10'"),
        (dict(batch_size=True), "batch_size must be an integer >= 1, got True"),
        (dict(image_size=-28), "image_size must be an integer >= 1, got -28"),
        (dict(test_size=101), "test_size must be at most 100, got 101"),
        (dict(train_size=250, val_size=100), r"train_size \+ val_size must be at most 300"),
        (
            dict(device="tpu"),
            r"device \(main's use_gpu\) must be True/False \(or 1/0\), 'auto', 'cpu', 'cuda', 'cuda:n' or a "
            r"torch.device, got 'tpu'",
        ),
    ],
)
def test_load_dataset_refuses_by_name(idx_root, arguments, message):
    sizes = dict(train_size=100, val_size=50, test_size=20, batch_size=16, device="cpu") | arguments
    with pytest.raises(ValueError, match=message):
        helpers.loadDataset(idx_root, **sizes)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(training_epochs=0), "training_epochs must be an integer >= 1, got 0"),
        (dict(batch_size=2.5), "batch_size must be an integer >= 1, got 2.5"),
        (dict(schedule="cosine"), "schedule must be 'constant' \\(or None\\) or 'onecycle', got 'cosine'"),
        (dict(precision="float16"), "precision must be 'float32' or 'bfloat16', got 'float16'"),
        (dict(loss_func="hinge"), "loss_func must be one of .* got 'hinge'"),
        (dict(optimizer=3), "optimizer must be one of .* got 3"),
        (dict(weight_decay=-1), "weight_decay must be a number >= 0, got -1"),
        (dict(on_epoch_end=5), r"on_epoch_end must be None or a function \(epoch, net, .*got int"),
        (dict(seed="a"), "seed must be an integer >= 0, got 'a'"),
    ],
)
def test_training_settings_are_refused_by_name(net, changes, message):
    with pytest.raises(ValueError, match=message):
        train_with(net, **changes)


def test_prediction_refuses_nan_inputs(net):
    with pytest.raises(ValueError, match="x holds NaN or infinite values"):
        helpers.predict_proba(net, torch.full((2, 784), float("nan")))
    with pytest.raises(ValueError, match="test_set_x holds NaN or infinite values"):
        helpers.test(net, None, torch.full((2, 784), float("inf")))


def test_test_refuses_a_wrong_model_by_name(net):
    with pytest.raises(ValueError, match=r"model must be None \(net as it is\) or a saved model's path .*got int"):
        helpers.test(net, 5, torch.zeros(2, 784))


def test_test_refuses_labels_of_another_length(net):
    with pytest.raises(ValueError, match="test_set_x and test_set_y must have the same length, got 2 and 3"):
        helpers.test(net, None, torch.zeros(2, 784), torch.zeros(3, dtype=torch.long))


def test_a_folder_given_as_a_model_file_is_refused_by_name(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"No saved model at '{tmp_path}'")):
        helpers.load_network(tmp_path, "cpu")


def test_a_model_file_whose_config_lacks_keys_is_refused_by_name(net, tmp_path):
    path = helpers.save_network(net, tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    del payload["config"]["dropout"]
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"model.pt': its config lacks \['dropout'\]"):
        helpers.load_network(path, "cpu")


# ---------------------------------------------------------------- the terminal says what went wrong, and fails


@pytest.mark.parametrize("case", ["missing image", "empty folder", "missing model"])
def test_terminal_predict_fails_with_a_message_not_a_traceback(tmp_path, case):
    import subprocess
    import sys

    (tmp_path / "empty").mkdir()
    arguments = {
        "missing image": [str(tmp_path / "nope.png")],
        "empty folder": [str(tmp_path / "empty")],
        "missing model": [str(tmp_path / "empty"), "--model", str(tmp_path / "no_model.pt")],
    }[case]
    result = subprocess.run(
        [sys.executable, "helpers.py", "predict", *arguments],
        capture_output=True,
        text=True,
        cwd=helpers.NOTEBOOK.parent,
        timeout=300,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("python helpers.py predict: error: ") and "Traceback" not in result.stderr
    assert {
        "missing image": "nope.png",
        "empty folder": "source holds no images",
        "missing model": "No saved model at",
    }[case] in result.stderr


def test_train_together_refuses_its_options_by_name(net):
    x, y = data()
    arguments = (x, y, x, y, 1e-3, 1, "cross_entropy", "adam")
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        helpers.train_together([net, net], [0, -1], *arguments, batch_size=8)
    with pytest.raises(ValueError, match="weight_decay must be a number >= 0, got nan"):
        helpers.train_together([net], [0], *arguments, batch_size=8, weight_decay=float("nan"))


ENTRY_POINT_REFUSALS = {  # the call (on a small network `net`, 20 images x and labels y) -> its refusal
    "visualize, labels short": (
        lambda net, x, y: helpers.visualize(None, None, net, x, y[:5], show=False),
        "test_set_x and test_set_y must hold the same number of samples, at least one; got 20 and 5",
    ),
    "visualize, n_samples 0": (
        lambda net, x, y: helpers.visualize(None, None, net, x, y, n_samples=0, show=False),
        "n_samples must be an integer >= 1, got 0",
    ),
    "visualize, predictions short": (
        lambda net, x, y: helpers.visualize(None, None, net, x, y, predictions=y[:3], show=False),
        r"predictions must hold one digit per test image \(20\), got 3",
    ),
    "score, float labels": (
        lambda net, x, y: helpers.score(net, x, y.float()),
        r"y must be a 1-D tensor of integer labels, got torch.float32 \[20\]",
    ),
    "evaluate, labels out of range": (
        lambda net, x, y: helpers._evaluate(net, x, y + 10),
        r"y must hold labels 0 … 9 \(the digits\)",
    ),
    "save_network, not an MLP": (
        lambda net, x, y: helpers.save_network(torch.nn.Linear(784, 10), "model.pt"),
        r"net must be a network from init_network \(an MLP\) or an MLPEnsemble, got Linear",
    ),
    "save_network, no path": (
        lambda net, x, y: helpers.save_network(net, None),
        r"path must be a file path \(a str or pathlib.Path\), got None",
    ),
    "run_experiments, no seeds": (
        lambda net, x, y: helpers.run_experiments([("baseline", {})], helpers.SETTINGS, []),
        "seeds must be a non-empty list of integers",
    ),
    "spread_table, not runs": (
        lambda net, x, y: helpers.spread_table(pd.DataFrame({"seed": [0]})),
        "runs must be run_experiments' table, one row per run with columns",
    ),
    "show_digits, titles short": (
        lambda net, x, y: helpers.show_digits(x[:4], ["a"]),
        r"titles \(and colors, if given\) must hold one per image: 4 images, 1 titles",
    ),
}


@pytest.mark.parametrize("case", ENTRY_POINT_REFUSALS)
def test_entry_points_refuse_by_name(net, case):
    call, message = ENTRY_POINT_REFUSALS[case]
    x, y = torch.randn(20, 784), torch.arange(20) % 10
    with pytest.raises(ValueError, match=message):
        call(net, x, y)
    plt.close("all")


def test_load_dataset_refuses_a_shuffle_that_is_not_a_bool(idx_root):
    with pytest.raises(ValueError, match=r"shuffle must be True or False \(or 1/0\), got 'yes'"):
        helpers.loadDataset(idx_root, 100, 50, 20, 16, "yes", device="cpu")


@pytest.mark.parametrize("seed", ["42", 4.2, -1, None])
def test_a_seed_that_is_no_count_is_refused_by_name(seed):
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0"):
        helpers.seed_everything(seed)


def test_a_network_without_ten_outputs_is_refused_where_it_meets_labels(tiny_loaders):
    "init_network(2, 784, [100, 50, 12], 0.2) builds; training or scoring it on digits is refused by name."
    train, valid, _ = tiny_loaders
    twelve = helpers.init_network(2, 784, [100, 50, 12], 0.2, device="cpu")
    message = r"net must have 10 outputs, one per digit \(neurons_per_layer ends with 10\), got 12"
    with pytest.raises(ValueError, match=message):
        helpers.train(twelve, train.x, train.y, valid.x, valid.y, 1e-3, 1, "cross_entropy", "adam", progress=False)
    with pytest.raises(ValueError, match=message):
        helpers.score(twelve, valid.x, valid.y)


def test_train_new_networks_refuses_no_seeds(idx_root):
    settings = helpers.SETTINGS.replace(dataset_path=str(idx_root), train_size=100, val_size=50, test_size=10)
    loaders = helpers.load_data(settings.replace(image_size=28), "cpu")
    with pytest.raises(ValueError, match=r"seeds must be a non-empty list of integers >= 0, one per network, got \[\]"):
        helpers.train_new_networks(settings, loaders, [])


def test_image_to_mnist_names_a_nan_pixel():
    image = digit_seven().astype(float)
    image[3, 3] = float("nan")
    with pytest.raises(ValueError, match="the image holds NaN or infinite pixels"):
        helpers.image_to_mnist(image)
    with pytest.raises(ValueError, match="ndarray: the image holds NaN"):
        helpers.predict_image(image, helpers.init_network(1, 784, [8, 10], 0.0, device="cpu"))


def test_experiments_refuse_what_is_not_their_input_by_name():
    with pytest.raises(ValueError, match=r"experiments must be a list of \(factor, \{setting: value\}\) pairs"):
        helpers.run_experiments({"dropout": {"dropout": 0.0}}, helpers.SETTINGS, [0])
    runs = pd.DataFrame([{"factor": "baseline", "value": "x", "seed": 0, "valid acc": 0.9}])
    with pytest.raises(ValueError, match="table must be spread_table's table"):
        helpers.spread_findings(runs, 20)
