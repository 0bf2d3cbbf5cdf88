"""Your own images: predict_image prepares any digit image as MNIST was made, and refuses blanks."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import helpers

REPO = Path(helpers.__file__).parent
SHIPPED = REPO / helpers.SETTINGS.model_path


def a_digit():
    "A thick '7'-like stroke on black, 28x28 uint8, as MNIST draws digits."
    image = np.zeros((28, 28), np.uint8)
    image[6:9, 8:21] = 255
    for row in range(9, 23):
        column = 20 - (row - 9) // 2
        image[row, column - 2 : column + 1] = 255
    return image


def test_output_is_mnist_like():
    canvas = helpers.image_to_mnist(a_digit())
    assert canvas.shape == (28, 28) and canvas.min() >= 0 and canvas.max() <= 1
    rows, columns = np.nonzero(canvas > 0.2)
    assert max(rows.max() - rows.min(), columns.max() - columns.min()) + 1 <= 21  # longest side ~20 px
    total = canvas.sum()
    centre = ((canvas.sum(1) * np.arange(28)).sum() / total, (canvas.sum(0) * np.arange(28)).sum() / total)
    assert centre == pytest.approx((14, 14), abs=1.0)  # placed by centre of mass


@pytest.mark.parametrize(
    "alter",
    [
        lambda d: 255 - d,  # black on white
        lambda d: np.asarray(Image.fromarray(d).resize((140, 140), Image.Resampling.BICUBIC)),  # 5x larger
        lambda d: np.pad(d, ((40, 5), (3, 60))),  # off centre on a larger page
        lambda d: np.stack([d, d // 2, d], axis=2),  # colour
        lambda d: d / 255.0,  # floats in [0, 1]
    ],
)
def test_altered_forms_become_the_same_input(alter):
    reference = helpers.image_to_mnist(a_digit())
    assert np.abs(helpers.image_to_mnist(alter(a_digit())) - reference).mean() < 0.05


@pytest.mark.parametrize("blank", [np.zeros((28, 28)), np.full((50, 40), 255, np.uint8), np.full((28, 28), 0.5)])
def test_blank_images_are_refused(blank):
    with pytest.raises(ValueError, match="no digit found"):
        helpers.image_to_mnist(blank)


def test_unreadable_file(tmp_path):
    path = tmp_path / "not_an_image.png"
    path.write_text("hello")
    net = helpers.init_network(1, 784, [8, 10], 0.0, device="cpu")
    with pytest.raises(ValueError, match="cannot read .*not_an_image.png"):
        helpers.predict_image(path, net)


def test_returns_digit_and_ten_probabilities_and_a_table_for_a_folder(tmp_path):
    net = helpers.init_network(1, 784, [8, 10], 0.0, device="cpu")
    single = helpers.predict_image(a_digit(), net).iloc[0]  # one image: one row
    probabilities = [single[f"p{digit}"] for digit in range(10)]
    assert single["digit"] == int(np.argmax(probabilities)) and sum(probabilities) == pytest.approx(1)
    for name in ("a.png", "b.jpg"):
        Image.fromarray(255 - a_digit()).convert("RGB").save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    table = helpers.predict_image(tmp_path, net)
    assert list(table["source"].map(lambda s: Path(s).name)) == ["a.png", "b.jpg"]


@pytest.fixture(scope="module")
def real_net_and_digits(mnist_root):
    "The shipped model (or, before one is shipped, a quickly trained one) and 200 real test digits."
    train, valid, test = helpers.loadDataset(mnist_root, 50_000, 10_000, 200, 128, device="cpu", download=False)
    if SHIPPED.is_file():
        net = helpers.load_network(SHIPPED, "cpu")
    else:
        torch.manual_seed(0)
        net = helpers.init_network(1, 784, [256, 10], 0.1, device="cpu")
        net, _, _ = helpers.train(
            net,
            train.x,
            train.y,
            valid.x,
            valid.y,
            3e-3,
            4,
            "cross_entropy",
            "adam",
            batch_size=128,
            schedule="onecycle",
            progress=False,
        )
        net.preprocessing = train.preprocessing
    raw = test.dataset.dataset.tensors[0][test.dataset.indices].numpy()
    return net, raw


def test_altered_real_digits_keep_their_prediction(real_net_and_digits, tmp_path):
    net, raw = real_net_and_digits
    originals = helpers.test(net, None, net.preprocessing(torch.from_numpy(raw)))
    agree = []
    for i, digit in enumerate(raw):
        inverted = Image.fromarray(255 - digit)
        forms = {
            "inverted": inverted,
            "large": inverted.resize((112, 112), Image.Resampling.BICUBIC),
            "shifted": Image.fromarray(np.pad(255 - digit, ((30, 2), (2, 40)), constant_values=255)),
        }
        for form, image in forms.items():
            path = tmp_path / f"{i}_{form}.png"
            image.save(path)
            row = helpers.predict_image(path, net).iloc[0]  # declined ("not a digit?") counts as another answer
            agree.append(bool(row["answer"] == "digit" and row["digit"] == originals[i].item()))
    assert np.mean(agree) >= 0.95


def test_terminal_predict(tmp_path):
    path = tmp_path / "seven.png"
    Image.fromarray(255 - a_digit()).save(path)
    result = subprocess.run(
        [sys.executable, "helpers.py", "predict", str(path)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: ") and "(p = " in result.stdout


def test_the_border_is_the_outermost_rows_and_columns():
    pixels = np.arange(16).reshape(4, 4)
    assert sorted(helpers._border(pixels).tolist()) == sorted([0, 1, 2, 3, 12, 13, 14, 15, 0, 4, 8, 12, 3, 7, 11, 15])


def test_a_blank_image_in_a_folder_is_named(tmp_path):
    Image.fromarray(255 - a_digit()).save(tmp_path / "a_seven.png")
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(tmp_path / "b_blank.png")
    net = helpers.init_network(1, 784, [8, 10], 0.0, device="cpu")
    with pytest.raises(ValueError, match=r"b_blank.png: no digit found"):
        helpers.predict_image(tmp_path, net)
