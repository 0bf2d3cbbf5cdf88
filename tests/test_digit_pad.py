"""Section 10b: the digit pad's picture → prediction path, without a browser (tests/test_digit_pad_browser.py drives
the real widget), and what the pad does without anywidget and in Colab."""

import base64
import io
import math
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

import helpers

REPO = Path(helpers.__file__).resolve().parent
SHAPES = {  # strokes on a 280x280 canvas, as a hand draws them
    1: [(140, 42), (140, 238)],
    0: [
        (140 + 70 * math.sin(step / 20 * 2 * math.pi), 140 - 98 * math.cos(step / 20 * 2 * math.pi))
        for step in range(21)
    ],
    7: [(70, 50), (210, 50), (117, 238)],
}
VARIANTS = {  # name: (line width, offset, scale)
    "as drawn": (22, (0, 0), 1.0),
    "thin": (8, (0, 0), 1.0),
    "thick": (36, (0, 0), 1.0),
    "off centre": (22, (-80, -70), 0.5),
    "tiny": (6, (0, 0), 0.2),
    "touching the border": (22, (0, 0), 1.45),
}


@pytest.fixture(scope="module")
def shipped():
    return helpers.load_network(REPO / "saved_models" / "mnist_mlp.pt", "cpu")


def canvas_png(points=(), width=22, offset=(0, 0), scale=1.0):
    "A transparent 280x280 canvas with black strokes through `points`, as PNG bytes (what the browser sends)."
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    if points:
        moved = [(offset[0] + 140 + (x - 140) * scale, offset[1] + 140 + (y - 140) * scale) for x, y in points]
        ImageDraw.Draw(image).line(moved, fill=(0, 0, 0, 255), width=width, joint="curve")
    stream = io.BytesIO()
    image.save(stream, "PNG")
    return stream.getvalue()


def data_url(png):
    return helpers._DRAWING_PREFIX + base64.b64encode(png).decode()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("digit", SHAPES)
def test_drawn_digits_are_read_by_the_shipped_model(shipped, digit, variant):
    width, offset, scale = VARIANTS[variant]
    probabilities, read, message = helpers.read_pad(data_url(canvas_png(SHAPES[digit], width, offset, scale)), shipped)
    assert (read, message) == (digit, "")
    assert len(probabilities) == 10 and probabilities[digit] == max(probabilities)
    assert sum(probabilities) == pytest.approx(1, abs=1e-5)


def test_a_drawing_and_the_same_picture_saved_as_a_file_get_the_same_answer(shipped, tmp_path):
    png = canvas_png(SHAPES[7], 14, (30, 20), 0.8)
    (tmp_path / "seven.png").write_bytes(png)
    saved = helpers.predict_image(tmp_path / "seven.png", shipped).iloc[0]
    probabilities, digit, _ = helpers.read_pad(data_url(png), shipped)
    assert digit == saved["digit"] and probabilities == [saved[f"p{d}"] for d in range(10)]


@pytest.mark.parametrize("picture", ["", None, data_url(canvas_png())])
def test_a_blank_pad_reads_no_digit_and_says_nothing(shipped, picture):
    assert helpers.read_pad(picture, shipped) == ([], None, "")


@pytest.mark.parametrize(
    "picture, message",
    [
        ("hello", "must be a PNG data URL starting with 'data:image/png;base64,', got 'hello'"),
        (helpers._DRAWING_PREFIX + "!!not base64!!", "not a readable PNG"),
        (helpers._DRAWING_PREFIX + base64.b64encode(b"GIF89a, not a PNG at all").decode(), "not a readable PNG"),
        (
            helpers._DRAWING_PREFIX + "A" * (4 * helpers._MAX_DRAWING_BYTES // 3 + 8),
            "more than 4,000,000 bytes: refused",
        ),
    ],
)
def test_malformed_or_oversized_pictures_are_refused_with_a_message_not_an_exception(shipped, picture, message):
    probabilities, digit, said = helpers.read_pad(picture, shipped)
    assert (probabilities, digit) == ([], None) and message in said


def test_a_picture_larger_than_the_pad_can_send_is_refused_from_its_header(shipped):
    "A browser can send any PNG: one over 1120x1120 pixels is refused before a pixel of it is decoded."
    stream = io.BytesIO()
    Image.new("L", (1121, 40), 255).save(stream, "PNG")
    probabilities, digit, said = helpers.read_pad(data_url(stream.getvalue()), shipped)
    assert (probabilities, digit) == ([], None) and "the drawing is 1121x40 pixels, more than 1120x1120" in said
    largest = Image.new("RGBA", (1120, 1120), (0, 0, 0, 0))
    ImageDraw.Draw(largest).line([(560, 150), (560, 950)], fill=(0, 0, 0, 255), width=80)
    stream = io.BytesIO()
    largest.save(stream, "PNG")
    assert helpers.read_pad(data_url(stream.getvalue()), shipped)[1:] == (1, "")


def test_a_network_that_cannot_read_the_picture_gets_a_message_not_a_blank(shipped):
    "One contract: no probabilities and a message for an error; a blank answer only for a blank canvas."
    wide = helpers.init_network(1, 400, [8, 10], 0.0, device="cpu")  # 20x20 inputs, no preprocessing to say so
    probabilities, digit, said = helpers.read_pad(data_url(canvas_png(SHAPES[1])), wide)
    assert (probabilities, digit) == ([], None) and "net must read 28x28 images (784 inputs)" in said
    probabilities, digit, said = helpers.read_pad(data_url(canvas_png(SHAPES[1])), "saved_models/mnist_mlp.pt")
    assert (probabilities, digit) == ([], None) and "net must be a network" in said


anywidget = pytest.importorskip("anywidget", reason="the widget itself needs anywidget (requirements.txt)")


def test_the_pad_answers_in_python_and_a_new_net_reads_the_same_picture(shipped, idx_root):
    pad = helpers.DigitPad(shipped)
    assert (pad.digit, pad.probabilities, pad.message) == (None, [], "")
    assert repr(pad) == "DigitPad: a live widget to draw a digit on (run the notebook to use it)"  # no address
    pad.picture = data_url(canvas_png(SHAPES[0]))
    assert pad.digit == 0 and len(pad.probabilities) == 10
    pad.picture = "broken"  # never an exception in the kernel's comm handler: a message instead
    assert (pad.digit, pad.probabilities) == (None, []) and "PNG data URL" in pad.message
    pad.picture = data_url(canvas_png(SHAPES[1]))
    other = helpers.init_network(1, 784, [8, 10], 0.0, device="cpu")  # untrained: another answer
    pad.net = other
    assert pad.net is other and pad.probabilities != helpers.read_pad(pad.picture, shipped)[0]
    pad.picture = ""
    assert (pad.digit, pad.probabilities) == (None, [])
    with pytest.raises(ValueError, match="net must be a network"):
        pad.net = None


def test_in_colab_the_pad_turns_on_the_custom_widget_manager(shipped, monkeypatch):
    calls = []
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: calls.append("enabled")
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    anywidget._util.enable_custom_widget_manager_once.cache_clear()
    try:
        helpers.DigitPad(shipped)
    finally:
        anywidget._util.enable_custom_widget_manager_once.cache_clear()
    assert calls == ["enabled"]


def test_without_ipywidgets_helpers_imports_and_the_pad_says_what_to_install():
    script = (
        "import helpers\ntry:\n    helpers.DigitPad(None)\nexcept ImportError as error:\n    print('refused:', error)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO / ".ci" / "foreign")}
    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    assert "refused: DigitPad needs anywidget and ipywidgets>=7.6: pip install anywidget" in finished.stdout


def test_a_pad_made_with_a_picture_reads_it(shipped):
    pad = helpers.DigitPad(shipped, picture=data_url(canvas_png(SHAPES[7])))
    assert pad.digit == 7 and pad.message == ""


def test_a_pad_refuses_a_network_that_cannot_read_its_pictures(shipped):
    twelve = helpers.init_network(1, 784, [8, 12], 0.0, device="cpu")
    with pytest.raises(
        ValueError, match=r"net must read 28x28 images \(784 inputs\) into 10 outputs, got 784 inputs and 12"
    ):
        helpers.DigitPad(twelve)
    pad = helpers.DigitPad(shipped)
    with pytest.raises(ValueError, match="net must read"):
        pad.net = helpers.init_network(1, 100, [8, 10], 0.0, device="cpu")
    assert pad.net is shipped
