"""Step 8: main takes the assignment's inputs in order, trains or loads, reports and returns the results."""

import inspect
import os
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
    assert helpers.SETTINGS.use_gpu == os.environ.get(
        "MNIST_DEVICE", "auto"
    )  # "auto": a GPU exactly where there is one


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


@pytest.mark.parametrize("flag", ["is_training", "visualize_results"])
@pytest.mark.parametrize("value", ["False", "True", "no", 2, 0.5])
def test_a_flag_that_is_no_bool_is_refused_and_the_saved_model_is_kept(idx_root, tmp_path, flag, value):
    "'False' from a form or a config file counts as true in Python: main refuses it before it trains over a model."
    saved = tmp_path / "model.pt"
    tiny_main(idx_root, saved, is_training=True)
    before = saved.read_bytes()
    with pytest.raises(ValueError, match=rf"{flag} must be True or False \(or 1/0\), got"):
        tiny_main(idx_root, saved, **{flag: value})
    assert saved.read_bytes() == before


def test_flags_of_0_and_1_mean_false_and_true(idx_root, tmp_path):
    saved = tmp_path / "model.pt"
    trained = tiny_main(idx_root, saved, is_training=1, visualize_results=0, use_gpu=0)
    assert trained["settings"].is_training is True and trained["settings"].visualize_results is False
    assert trained["parameters"]["device"] == "cpu" and saved.exists()


@pytest.mark.parametrize("use_gpu", [2, -1, "gpu", "cuda:x", 0.0, [0], "mps"])
def test_a_use_gpu_that_names_no_device_is_refused_by_name(idx_root, tmp_path, use_gpu):
    with pytest.raises(ValueError, match=r"use_gpu\)? must be True/False \(or 1/0\), 'auto', 'cpu', 'cuda'"):
        tiny_main(idx_root, tmp_path / "model.pt", is_training=True, use_gpu=use_gpu)
    with pytest.raises(ValueError, match=r"use_gpu must be"):
        helpers.SETTINGS.replace(use_gpu=use_gpu)


def test_a_gpu_that_is_not_there_is_refused_by_name(monkeypatch):
    "cuda:3 on a one-GPU machine: refused, naming the GPUs there are, before torch fails deep inside."
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert helpers.resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match=r"asks for cuda:3, but this machine has 1 GPU\(s\): cuda:0 to cuda:0"):
        helpers.resolve_device("cuda:3")


def test_settings_refuse_a_network_without_ten_outputs():
    with pytest.raises(
        ValueError, match=r"neurons_per_layer must end with 10, one output per digit, got \[100, 50, 12\]"
    ):
        helpers.SETTINGS.replace(no_of_layers=2, neurons_per_layer=[100, 50, 12])


def test_the_command_line_refuses_a_use_gpu_that_names_no_device(idx_root, tmp_path):
    import subprocess
    import sys

    command = [sys.executable, "helpers.py", "train", "--dataset-path", str(idx_root), "--use-gpu", "2"]
    result = subprocess.run(command, cwd=helpers.NOTEBOOK.parent, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "use_gpu must be True/False (or 1/0)" in result.stderr


def test_main_trains_in_the_precision_it_is_given_and_says_which_engine_and_why(idx_root, tmp_path, monkeypatch):
    "main(precision='bfloat16') trains eagerly in bfloat16: the engine line says eager, and why."
    asked = []
    original = helpers._make_autocast
    monkeypatch.setattr(
        helpers, "_make_autocast", lambda device, precision: asked.append(precision) or original(device, precision)
    )
    results = tiny_main(idx_root, tmp_path / "model.pt", is_training=True, precision="bfloat16", training_epochs=1)
    assert asked == ["bfloat16"]
    assert results["parameters"]["engine used"] == "eager"
    assert results["parameters"]["why this engine"] == "precision is 'bfloat16'"


def test_main_trains_with_the_seed_it_is_given(idx_root, tmp_path, monkeypatch):
    "The settings' seed starts the training (weights, batch order, dropout), not only the split: same data, other seed."
    data = helpers.loadDataset(idx_root, 200, 50, 100, 32, device="cpu")
    monkeypatch.setattr(helpers, "loadDataset", lambda *args, **kwargs: data)  # one split for every seed
    weights = {
        name: tiny_main(idx_root, tmp_path / f"{name}.pt", is_training=True, seed=seed)["net"].state_dict()
        for name, seed in (("first", 3), ("again", 3), ("other", 4))
    }
    assert all(torch.equal(weights["first"][key], weights["again"][key]) for key in weights["first"])
    assert not torch.equal(weights["first"]["fc1.weight"], weights["other"]["fc1.weight"])
