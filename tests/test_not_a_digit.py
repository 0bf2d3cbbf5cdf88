"""Section 10a: "not a digit" as an answer. Non-digits drawn by code, networks that vote (MLPEnsemble), the
threshold under which predict_image, read_pad and the pad decline, and calibration (ECE, reliability)."""

import io

import numpy as np
import pytest
import torch
from test_digit_pad import SHAPES, canvas_png, data_url

import helpers


def test_non_digits_are_mnist_shaped_reproducible_and_of_every_kind():
    drawings = helpers.non_digits(["A", "heart", "scribble"], 4, seed=3)
    assert drawings.shape == (12, 28, 28) and drawings.dtype == torch.uint8
    assert torch.equal(drawings, helpers.non_digits(["A", "heart", "scribble"], 4, seed=3))
    assert not torch.equal(drawings, helpers.non_digits(["A", "heart", "scribble"], 4, seed=4))
    assert all(image.max() > 200 and image[0].max() == 0 for image in drawings)  # ink, centred in a dark border
    assert set(helpers._UNSEEN_NON_DIGITS) < set(helpers._NON_DIGIT_STROKES)
    for digit_like in "OIlSZBGqgb0123456789":  # shapes that are digits in some hand are never non-digits
        assert digit_like not in helpers._NON_DIGIT_STROKES


def test_non_digits_refuse_unknown_kinds_and_counts_by_name():
    with pytest.raises(ValueError, match=r"kinds must be among .*got \['Q'\]"):
        helpers.non_digits(["A", "Q"], 2)
    with pytest.raises(ValueError, match="count must be an integer >= 1, got 0"):
        helpers.non_digits(["A"], 0)


@pytest.fixture
def voters(trained_tiny, tiny_loaders):
    "Two small networks trained alike, as an ensemble (no threshold yet)."
    first, _ = trained_tiny
    torch.manual_seed(1)
    second = helpers.init_network(1, 784, [32, 10], 0.1, device="cpu")
    train, valid, _ = tiny_loaders
    second = helpers.train(
        second, train.x, train.y, valid.x, valid.y, 3e-3, 3, "cross_entropy", "adam", batch_size=32, progress=False
    )[0]
    ensemble = helpers.MLPEnsemble([first, second], temperature=1.5)
    ensemble.preprocessing = train.preprocessing
    return ensemble


def test_an_ensemble_averages_its_members_temperature_scaled_probabilities(voters, tiny_loaders):
    x = tiny_loaders[2].x
    members = [torch.softmax(member(x) / 1.5, 1) for member in voters.members]
    expected = torch.stack(members).mean(0)
    torch.testing.assert_close(helpers.predict_proba(voters, x), expected, rtol=1e-5, atol=1e-6)
    assert helpers.score(voters, x, tiny_loaders[2].y)["loss"] == pytest.approx(
        torch.nn.functional.nll_loss(expected.log(), tiny_loaders[2].y).item(), rel=1e-5
    )
    assert torch.equal(helpers.test(voters, None, x), expected.argmax(1))


def test_an_ensemble_saves_in_one_file_in_float16_and_loads_back(voters, tiny_loaders, tmp_path):
    voters.threshold = 0.6
    path = helpers.save_network(voters, tmp_path / "voters.pt", metadata={"note": "two"})
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "mnist-mlp/2" and payload["config"]["temperature"] == 1.5
    assert {tensor.dtype for tensor in payload["state_dict"].values()} == {torch.float16}
    loaded = helpers.load_network(path, "cpu")
    assert isinstance(loaded, helpers.MLPEnsemble) and (loaded.temperature, loaded.threshold) == (1.5, 0.6)
    assert loaded.preprocessing == voters.preprocessing and loaded.metadata["note"] == "two"
    x = tiny_loaders[2].x
    torch.testing.assert_close(helpers.predict_proba(loaded, x), helpers.predict_proba(voters, x), atol=2e-3, rtol=0)


def test_predict_image_declines_below_the_threshold_and_says_why(voters):
    images = [helpers.read_image(io.BytesIO(canvas_png(SHAPES[digit]))) for digit in (0, 1, 7)]
    answered = helpers.predict_image(images, voters)
    assert answered["digit"].notna().all() and (answered["answer"] == "digit").all()  # no threshold: every one
    voters.threshold = 1.0  # nothing is that sure: every picture declined
    declined = helpers.predict_image(images, voters)
    assert declined["digit"].isna().all() and str(declined["digit"].dtype) == "Int64"
    assert declined["answer"].str.startswith("not a digit? (its surest probability").all()
    assert np.allclose(declined[[f"p{d}" for d in range(10)]].sum(1), 1)  # the ten probabilities are still there


def test_read_pad_returns_the_probabilities_and_no_digit_for_what_it_declines(voters):
    voters.threshold = 1.0
    probabilities, digit, message = helpers.read_pad(data_url(canvas_png(SHAPES[7])), voters)
    assert len(probabilities) == 10 and digit is None and message == "not a digit?"
    voters.threshold = None
    assert helpers.read_pad(data_url(canvas_png()), voters) == ([], None, "")  # a blank canvas stays blank


def test_calibration_measures_how_far_confidence_is_from_accuracy():
    labels = torch.arange(1000) % 10
    right = torch.nn.functional.one_hot(labels, 10).float() * 0.8 + 0.02  # confidence 0.82 ...
    probabilities = torch.where(torch.arange(1000).view(-1, 1) % 10 < 8, right, right.roll(1, 1))  # ... right 80%
    ece, table = helpers.calibration(probabilities, labels)
    assert ece == pytest.approx(0.02, abs=1e-6) and table["count"].sum() == 1000
    assert table["accuracy"].iloc[0] == pytest.approx(0.8)
    perfect = torch.nn.functional.one_hot(labels, 10).float()
    assert helpers.calibration(perfect, labels)[0] == pytest.approx(0.0)


def test_the_curves_a_hand_draws_have_their_shapes():
    face = np.array(helpers._arc(140, 140, 100, 100))
    assert np.allclose(np.hypot(*(face - 140).T), 100) and np.allclose(face[0], face[-1])  # a closed circle
    spiral = np.array(helpers._spiral())
    radii = np.hypot(*(spiral - 140).T)
    assert radii[0] == 0 and radii[-1] == pytest.approx(100) and np.all(np.diff(radii) > 0)
    heart = np.array(helpers._heart())
    assert np.allclose(sorted(heart[:, 0] - 140), sorted(140 - heart[:, 0]), atol=1e-9)  # mirror-symmetric
    assert heart[:, 1].max() - heart[:, 1].min() > 100


def test_plot_reliability_draws_accuracy_against_confidence():
    import matplotlib.pyplot as plt

    labels = torch.arange(100) % 10
    probabilities = torch.nn.functional.one_hot(labels, 10).float() * 0.5 + 0.05
    ece, table = helpers.calibration(probabilities, labels)
    figure = helpers._plot_reliability(table, ece)
    line = figure.axes[0].lines[1]
    assert list(line.get_xdata()) == list(table["confidence"]) and list(line.get_ydata()) == list(table["accuracy"])
    plt.close(figure)


def test_a_saved_ensemble_whose_member_lacks_its_sizes_is_refused(voters, tmp_path):
    path = helpers.save_network(voters, tmp_path / "voters.pt")
    payload = torch.load(path, weights_only=True)
    payload["config"]["members"][1].pop("dropout")
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"voters.pt': its config lacks \['dropout'\]"):
        helpers.load_network(path, "cpu")


def test_main_loads_an_ensemble_and_shows_what_its_file_does_not_record(voters, idx_root, tmp_path):
    voters.threshold = 0.3
    path = helpers.save_network(voters, tmp_path / "voters.pt")
    options = dict(dataset_path=idx_root, train_size=200, val_size=50, test_size=100, use_gpu="cpu", image_size=28)
    with pytest.warns(RuntimeWarning, match="trained on a split its card does not record"):
        results = helpers.main(is_training=False, model_path=path, progress=False, show=False, **options)
    parameters = results["parameters"]
    assert parameters["network"] == "2 voting (784-32-10, 784-32-10), temperature 1.5, threshold 0.3000"
    assert parameters["optimizer"] == "not recorded" and parameters["neurons_per_layer"] == "not recorded"


def ensemble_script(trained_tiny, tiny_loaders, idx_root, tmp_path, monkeypatch):
    "(scripts/train_ensemble.py as a module, its --base and --dataset-path for a tiny base saved in tmp_path)."
    import sys

    sys.path.insert(0, str(helpers.NOTEBOOK.parent / "scripts"))
    import train_ensemble

    base = trained_tiny[0]
    base.preprocessing = tiny_loaders[0].preprocessing
    helpers.save_network(base, tmp_path / "base.pt")
    monkeypatch.setattr(helpers, "SETTINGS", helpers.SETTINGS.replace(train_size=200, val_size=100, test_size=100))
    return train_ensemble, ["--base", str(tmp_path / "base.pt"), "--dataset-path", str(idx_root)]


def test_the_ensemble_script_votes_calibrates_on_validation_and_records_its_run(
    trained_tiny, tiny_loaders, idx_root, tmp_path, monkeypatch
):
    "scripts/train_ensemble.py, small: the base plus one member with outlier exposure, T and threshold from validation."
    train_ensemble, paths = ensemble_script(trained_tiny, tiny_loaders, idx_root, tmp_path, monkeypatch)
    options = ["--members", "1", "--widths", "16", "--epochs", "2", "--drawings-per-kind", "3", "--threads", "1"]
    path = train_ensemble.main([*options, *paths, "--model-path", str(tmp_path / "out" / "ensemble.pt")])

    ensemble = helpers.load_network(path, "cpu")
    assert isinstance(ensemble, helpers.MLPEnsemble) and len(ensemble.members) == 2
    assert [member.config["neurons_per_layer"] for member in ensemble.members] == [[32, 10], [16, 10]]
    assert 0.2 <= ensemble.temperature <= 5
    valid = tiny_loaders[1]
    surest = helpers.predict_proba(ensemble, valid.x).max(1).values
    answered = (surest >= ensemble.threshold).float().mean().item()  # the quantile interpolates: within one image
    assert train_ensemble.ANSWERED_ON_VALIDATION - 1 / len(surest) <= answered < 1
    card = ensemble.metadata
    assert (
        card["results"]["test"]["accuracy"] == helpers.score(ensemble, tiny_loaders[2].x, tiny_loaders[2].y)["accuracy"]
    )
    assert not set(card["outlier exposure"]["kinds"]) & set(card["outlier exposure"]["unseen kinds"])
    assert card["command"].startswith("python scripts/train_ensemble.py --members 1")
    assert card["data"] == {"train_size": 200, "val_size": 100, "test_size": 100, "seed": 0, "image_size": 28}
    assert card["members"][1]["epochs"] == 2 and card["members"][0]["recipe"] == "scripts/train_shipped_model.py"


def test_the_ensemble_script_trains_members_apart_and_votes_them_later(
    trained_tiny, tiny_loaders, idx_root, tmp_path, monkeypatch
):
    "--members-dir saves each new member in a file of its own (as on a lent GPU); --add-members votes them untrained."
    train_ensemble, paths = ensemble_script(trained_tiny, tiny_loaders, idx_root, tmp_path, monkeypatch)
    options = ["--members", "2", "--widths", "16", "--epochs", "1", "--drawings-per-kind", "3", "--threads", "1"]
    folder = train_ensemble.main([*options, *paths, "--first-seed", "7", "--members-dir", str(tmp_path / "members")])
    files = sorted(folder.glob("*.pt"))
    assert [file.name for file in files] == ["member_7.pt", "member_8.pt"]  # no ensemble: that is --add-members' job
    apart = [helpers.load_network(file, "cpu") for file in files]
    assert all(isinstance(saved, helpers.MLPEnsemble) and len(saved.members) == 1 for saved in apart)
    assert [saved.metadata["member"]["seed"] for saved in apart] == [7, 8]
    assert apart[0].metadata["member"]["device"] == "cpu" and apart[0].metadata["member"]["widths"] == [16]

    arguments = [*paths, "--threads", "1", "--model-path", str(tmp_path / "voted.pt")]
    ensemble = helpers.load_network(train_ensemble.main([*arguments, "--add-members", *map(str, files)]), "cpu")
    assert len(ensemble.members) == 3 and ensemble.threshold is not None
    for member, saved in zip(ensemble.members[1:], apart):
        for voted, alone in zip(member.state_dict().values(), saved.members[0].state_dict().values()):
            assert torch.equal(voted, alone)  # the very weights saved apart, not trained again
    assert [record["seed"] for record in ensemble.metadata["members"][1:]] == [7, 8]

    # an ensemble file's members, its base once (a candidate: its card keeps off the test split)
    voted = str(tmp_path / "voted.pt")
    arguments = ["--base", voted, "--dataset-path", str(idx_root), "--threads", "1", "--skip-test"]
    again = train_ensemble.main([*arguments, "--add-members", voted, "--model-path", str(tmp_path / "again.pt")])
    again = helpers.load_network(again, "cpu")
    assert len(again.members) == 3 and again.metadata["test split"] == "not looked at"
    assert set(again.metadata["results"]) == {"train", "valid"}
    assert [record.get("seed") for record in again.metadata["members"]] == [None, 7, 8]
    for copy, member in zip(again.members, ensemble.members):
        assert all(torch.equal(a, b) for a, b in zip(copy.state_dict().values(), member.state_dict().values()))
    refused = [
        ["--members-dir", "x", "--add-members", "y"],  # train and read at once
        ["--add-members", "y", "--epochs", "9"],  # an option that would be ignored
        ["--members-dir", str(folder), "--first-seed", "8"],  # member_8.pt is there: never overwritten
        ["--model-path", voted],  # nor is a model
    ]
    for arguments in refused:
        with pytest.raises(SystemExit):
            train_ensemble.parse_args(arguments)
