"""Step 8: main takes the assignment's inputs in order, trains or loads, reports and returns the results."""

import inspect
import warnings

import pytest
import torch

import helpers

ASSIGNMENT_ORDER = [
    "dataset_path",
    "train_size",
    "val_size",
    "test_size",
    "no_of_layers",
    "neurons_per_layer",
    "loss_func",
    "optimizer",
    "batch_size",
    "learning_rate",
    "use_gpu",
    "dropout",
    "is_training",
    "visualize_results",
    "training_epochs",
]


def tiny_main(root, model_path, **options):
    settings = (
        dict(
            dataset_path=root,
            train_size=200,
            val_size=50,
            test_size=100,
            no_of_layers=1,
            neurons_per_layer=[32, 10],
            batch_size=32,
            learning_rate=3e-3,
            use_gpu=False,
            dropout=0.1,
            training_epochs=3,
            image_size=28,
            model_path=model_path,
            progress=False,
            show=False,
        )
        | options
    )
    return helpers.main(**settings)


def test_parameters_follow_the_assignment_order_and_defaults():
    parameters = inspect.signature(helpers.main).parameters
    assert list(parameters)[:15] == ASSIGNMENT_ORDER
    # an input left out comes from SETTINGS when main is called
    assert all(parameters[name].default is None for name in ASSIGNMENT_ORDER)
    assert helpers.SETTINGS.is_training is False and helpers.SETTINGS.visualize_results is False
    assert helpers.SETTINGS.use_gpu == "auto"  # a GPU exactly where there is one (MNIST_DEVICE, unset here)


def test_settings_are_read_when_main_is_called(idx_root, tmp_path, monkeypatch):
    edited = helpers.SETTINGS.replace(student_name="Ada Lovelace", neurons_per_layer=[16, 10], training_epochs=2)
    monkeypatch.setattr(helpers, "SETTINGS", edited)  # as if the settings cell were edited and run again
    results = tiny_main(idx_root, tmp_path / "model.pt", is_training=True, neurons_per_layer=None, training_epochs=None)
    assert results["settings"].student_name == "Ada Lovelace"
    assert results["net"].config["neurons_per_layer"] == [16, 10]
    assert len(results["history"]["loss"]["train"]) == 2
    card = helpers.load_network(tmp_path / "model.pt", "cpu").metadata
    assert card["training"]["training_epochs"] == 2 and card["data"]["train_size"] == 200
    assert card["settings"]["student_name"] == "Ada Lovelace" and card["settings"]["neurons_per_layer"] == [16, 10]


def test_unknown_settings_are_refused_by_name(idx_root, tmp_path):
    with pytest.raises(TypeError, match="unknown settings \\['learnin_rate'\\]"):
        tiny_main(idx_root, tmp_path / "model.pt", is_training=True, learnin_rate=0.1)


def test_training_run_reports_and_saves(idx_root, tmp_path, capsys):
    results = tiny_main(idx_root, tmp_path / "model.pt", is_training=True)
    printed = capsys.readouterr().out
    assert (
        f"Name: {helpers.SETTINGS.student_name}" in printed
        and f"Roll number: {helpers.SETTINGS.roll_number}" in printed
    )
    for parameter in ("learning_rate", "optimizer", "neurons_per_layer", "dropout", "training_epochs", "batch_size"):
        assert parameter in printed
    assert "Confusion matrix" in printed and "f1_macro" in printed
    for split in ("train", "valid", "test"):
        assert {"loss", "accuracy", "f1_macro", "confusion_matrix"} <= set(results[split])
    assert results["test"]["accuracy"] >= 0.6  # chance is 0.1
    assert len(results["history"]["loss"]["train"]) == 3
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "model.json").is_file()


def test_loading_run_reproduces_the_trained_results(idx_root, tmp_path):
    trained = tiny_main(idx_root, tmp_path / "model.pt", is_training=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same split: no warning about leaked training images
        loaded = tiny_main(
            idx_root, tmp_path / "model.pt", is_training=False, no_of_layers=3, neurons_per_layer=[1, 2, 3, 10]
        )  # ignored: the file's architecture is used
    assert loaded["parameters"]["neurons_per_layer"] == [32, 10]
    assert loaded["test"]["accuracy"] == trained["test"]["accuracy"]
    assert loaded["history"] == trained["history"]
    # the engine that trained it is printed and recorded: the fast one for these settings, and "eager" when asked
    assert trained["parameters"]["engine used"] == loaded["parameters"]["engine used"] == "fast"
    assert helpers.load_network(tmp_path / "model.pt", "cpu").metadata["training"]["engine used"] == "fast"
    eager = tiny_main(idx_root, tmp_path / "eager.pt", is_training=True, engine="eager")
    assert eager["parameters"]["engine used"] == "eager" and eager["parameters"]["engine"] == "eager"


def test_loading_with_another_split_warns(idx_root, tmp_path):
    tiny_main(idx_root, tmp_path / "model.pt", is_training=True)
    with pytest.warns(RuntimeWarning, match="trained on another split"):
        tiny_main(idx_root, tmp_path / "model.pt", is_training=False, train_size=100)


def test_loading_without_a_saved_model_says_how_to_train(idx_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="is_training=True"):
        tiny_main(idx_root, tmp_path / "absent.pt", is_training=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpu_asked_without_cuda_falls_back_to_the_cpu(idx_root, tmp_path):
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        results = tiny_main(idx_root, tmp_path / "model.pt", is_training=True, use_gpu=True)
    assert results["parameters"]["device"] == "cpu"


def test_visualize_results_saves_the_figures(idx_root, tmp_path):
    tiny_main(
        idx_root, tmp_path / "model.pt", is_training=True, visualize_results=True, figures_dir=tmp_path / "figures"
    )
    assert {"curves.png", "confusion_matrix.png", "f1.png", "samples.png"} <= {
        path.name for path in (tmp_path / "figures").iterdir()
    }


def test_main_trains_and_scores_on_the_data_it_is_handed(idx_root, tmp_path, monkeypatch):
    data = helpers.loadDataset(idx_root, 200, 50, 100, 32, device="cpu")

    def no_loading(*args, **kwargs):
        raise AssertionError("main loaded data although it was handed some")

    monkeypatch.setattr(helpers, "loadDataset", no_loading)
    results = tiny_main(idx_root, tmp_path / "model.pt", is_training=True, data=data)
    assert results["test"]["accuracy"] == helpers.score(results["net"], data[2].x, data[2].y)["accuracy"]
    for other in ({"val_size": 60}, {"seed": 1}, {"image_size": 14}, {"dataset_path": tmp_path}):
        with pytest.raises(ValueError, match=r"data must be loadDataset's \(train, valid, test\) loaders for these"):
            tiny_main(idx_root, tmp_path / "other.pt", is_training=True, data=data, **other)
    with pytest.raises(ValueError, match="got list of no loaders from loadDataset"):
        tiny_main(idx_root, tmp_path / "other.pt", is_training=True, data=[data[0].x, data[1].x, data[2].x])


def test_main_reports_the_loss_the_network_was_trained_with(idx_root, tmp_path):
    results = tiny_main(idx_root, tmp_path / "model.pt", is_training=True, loss_func="multi_margin")
    data = helpers.loadDataset(idx_root, 200, 50, 100, 32, device="cpu")
    margin = helpers.score(results["net"], data[1].x, data[1].y, "multi_margin")["loss"]
    cross_entropy = helpers.score(results["net"], data[1].x, data[1].y)["loss"]
    assert results["valid"]["loss"] == pytest.approx(margin) and margin != pytest.approx(cross_entropy)
