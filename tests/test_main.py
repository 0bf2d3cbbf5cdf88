"""Step 8: main takes the assignment's inputs in order, trains or loads, reports and returns the results."""
import inspect
import warnings

import pytest
import torch

import helpers

ASSIGNMENT_ORDER = ["dataset_path", "train_size", "val_size", "test_size", "no_of_layers", "neurons_per_layer",
                    "loss_func", "optimizer", "batch_size", "learning_rate", "use_gpu", "dropout", "is_training",
                    "visualize_results", "training_epochs"]


def tiny_main(root, model_path, **options):
    settings = dict(dataset_path=root, train_size=200, val_size=50, test_size=100, no_of_layers=1,
                    neurons_per_layer=[32, 10], batch_size=32, learning_rate=3e-3, use_gpu=False, dropout=0.1,
                    training_epochs=3, model_path=model_path, progress=False, show=False) | options
    return helpers.main(**settings)


def test_parameters_follow_the_assignment_order_and_defaults():
    parameters = inspect.signature(helpers.main).parameters
    assert list(parameters)[:15] == ASSIGNMENT_ORDER
    assert parameters["is_training"].default is False and parameters["visualize_results"].default is False
    # by default a GPU exactly where there is one (MNIST_DEVICE, unset here, would override it)
    default_device = helpers.resolve_device(parameters["use_gpu"].default)
    assert default_device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_training_run_reports_and_saves(idx_root, tmp_path, capsys):
    results = tiny_main(idx_root, tmp_path / "model.pt", is_training=True)
    printed = capsys.readouterr().out
    assert f"Name: {helpers.STUDENT_NAME}" in printed and f"Roll number: {helpers.ROLL_NUMBER}" in printed
    for parameter in ("learning_rate", "optimizer", "neurons_per_layer", "dropout", "training_epochs", "batch_size"):
        assert parameter in printed
    assert "Confusion matrix" in printed and "f1_macro" in printed
    for split in ("train", "valid", "test"):
        assert {"loss", "accuracy", "f1_macro", "confusion_matrix"} <= set(results[split])
    assert results["test"]["accuracy"] > 0.5
    assert len(results["history"]["loss"]["train"]) == 3
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "model.json").is_file()


def test_loading_run_reproduces_the_trained_results(idx_root, tmp_path):
    trained = tiny_main(idx_root, tmp_path / "model.pt", is_training=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # same split: no warning about leaked training images
        loaded = tiny_main(idx_root, tmp_path / "model.pt", is_training=False, no_of_layers=3,
                           neurons_per_layer=[1, 2, 3, 10])   # ignored: the file's architecture is used
    assert loaded["parameters"]["neurons_per_layer"] == [32, 10]
    assert loaded["test"]["accuracy"] == trained["test"]["accuracy"]
    assert loaded["history"] == trained["history"]


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
    tiny_main(idx_root, tmp_path / "model.pt", is_training=True, visualize_results=True,
              figures_dir=tmp_path / "figures")
    assert {"curves.png", "confusion_matrix.png", "f1.png", "samples.png"} <= {
        path.name for path in (tmp_path / "figures").iterdir()}
