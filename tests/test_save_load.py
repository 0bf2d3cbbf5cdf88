"""Steps 4-5: save_network / load_network round-trip plain data safely and atomically."""

import json
import pickle

import pytest
import torch

import helpers


@pytest.fixture
def trained(trained_tiny, tiny_loaders):
    net, history = trained_tiny
    return net, tiny_loaders[0].preprocessing, history


def test_round_trip_gives_the_same_network(trained, tiny_loaders, tmp_path):
    net, preprocessing, history = trained
    path = helpers.save_network(
        net, tmp_path / "model.pt", preprocessing=preprocessing, metadata={"history": history, "note": "tiny"}
    )
    loaded = helpers.load_network(path, device="cpu")
    assert loaded.config == net.config and not loaded.training
    assert loaded.preprocessing == preprocessing
    assert loaded.metadata == {"history": history, "note": "tiny"}
    test_x = tiny_loaders[2].x
    assert torch.equal(loaded(test_x), net.eval()(test_x))


def test_file_is_weights_and_plain_data_only(trained, tmp_path):
    net, preprocessing, _ = trained
    path = helpers.save_network(net, tmp_path / "model.pt", preprocessing=preprocessing, metadata={"acc": 0.5})
    payload = torch.load(path, weights_only=True)
    assert set(payload) == {"format", "config", "preprocessing", "metadata", "state_dict"}
    assert set(payload["state_dict"]) == {f"fc{i}.{kind}" for i in (1, 2) for kind in ("weight", "bias")}
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["config"] == net.config and card["preprocessing"]["image_size"] == 28
    assert card["metadata"] == {"acc": 0.5}


def test_numpy_and_tensor_metadata_become_plain(trained, tmp_path):
    import numpy as np

    net, preprocessing, _ = trained
    path = helpers.save_network(
        net,
        tmp_path / "m.pt",
        preprocessing=preprocessing,
        metadata={
            "accuracy": np.float64(0.9),
            "matrix": np.eye(2, dtype=int),
            "curve": torch.tensor([0.5, 0.25]),
            "shape": (28, 28),
        },
    )
    assert helpers.load_network(path, "cpu").metadata == {
        "accuracy": 0.9,
        "matrix": [[1, 0], [0, 1]],
        "curve": [0.5, 0.25],
        "shape": [28, 28],
    }


def test_str_subclasses_such_as_torch_version_load_safely(trained, tmp_path):
    net, preprocessing, _ = trained
    path = helpers.save_network(
        net, tmp_path / "m.pt", preprocessing=preprocessing, metadata={"torch": torch.__version__}
    )
    loaded = helpers.load_network(path, "cpu").metadata["torch"]
    assert loaded == str(torch.__version__) and type(loaded) is str


def test_saved_files_follow_the_umask_like_any_other_file(trained, tmp_path):
    import os

    net, preprocessing, _ = trained
    old = os.umask(0o022)
    try:
        path = helpers.save_network(net, tmp_path / "m.pt", preprocessing=preprocessing)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert path.with_suffix(".json").stat().st_mode & 0o777 == 0o644


def test_metadata_that_is_not_plain_data_is_refused(trained, tmp_path):
    net, preprocessing, _ = trained
    with pytest.raises(TypeError, match="metadata\\['net'\\] must hold plain data"):
        helpers.save_network(net, tmp_path / "models" / "m.pt", preprocessing=preprocessing, metadata={"net": net})
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())


def test_interrupted_save_keeps_the_previous_model(trained, tmp_path, monkeypatch):
    net, preprocessing, _ = trained
    path = helpers.save_network(net, tmp_path / "models" / "model.pt", preprocessing=preprocessing)
    before = path.read_bytes()

    def crash(obj, stream, *args, **kwargs):
        stream.write(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(helpers.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        helpers.save_network(net, path, preprocessing=preprocessing)
    assert path.read_bytes() == before
    assert sorted(file.name for file in path.parent.iterdir()) == ["model.json", "model.pt"]


def test_missing_file_says_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="is_training=True"):
        helpers.load_network(tmp_path / "absent.pt")


def test_corrupted_file(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(ValueError, match="not a readable model file"):
        helpers.load_network(path)


def test_truncated_file(trained, tmp_path):
    net, preprocessing, _ = trained
    path = helpers.save_network(net, tmp_path / "model.pt", preprocessing=preprocessing)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="not a readable model file"):
        helpers.load_network(path)


def test_foreign_torch_file(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="not written by save_network"):
        helpers.load_network(path)


class Payload:
    "Stands for code hidden in a pickle."

    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_code_is_refused_without_running(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"format": helpers._MODEL_FORMAT, "state_dict": Payload()}))
    with pytest.raises(ValueError, match="not a readable model file"):
        helpers.load_network(path)
    assert "this must never run" not in capsys.readouterr().out


def test_weights_that_do_not_fit_the_config(trained, tmp_path):
    net, preprocessing, _ = trained
    path = helpers.save_network(net, tmp_path / "model.pt", preprocessing=preprocessing)
    payload = torch.load(path, weights_only=True)
    payload["config"]["neurons_per_layer"] = [64, 10]
    torch.save(payload, path)
    with pytest.raises(ValueError, match="do not fit the saved architecture"):
        helpers.load_network(path)


def resaved(trained, tmp_path, **changes):
    "The trained network saved, then its file's payload changed: a model file someone else wrote."
    path = helpers.save_network(trained[0], tmp_path / "model.pt", preprocessing=helpers.Preprocessing(28, 0.1, 0.3))
    payload = torch.load(path, weights_only=True)
    torch.save({**payload, **changes}, path)
    return path


def test_a_saved_preprocessing_with_unknown_keys_is_refused_naming_the_file(trained, tmp_path):
    path = resaved(trained, tmp_path, preprocessing={"image_size": 28, "mean": 0.1, "std": 0.3, "invert": True})
    with pytest.raises(ValueError, match=r"model.pt': its preprocessing must hold only \['image_size', 'mean'"):
        helpers.load_network(path, "cpu")


def test_a_saved_preprocessing_that_does_not_fit_the_weights_is_refused_naming_the_file(trained, tmp_path):
    path = resaved(trained, tmp_path, preprocessing={"image_size": 20, "mean": 0.1, "std": 0.3})
    with pytest.raises(
        ValueError, match=r"model.pt': its preprocessing makes 20x20 inputs, but its first layer takes 784"
    ):
        helpers.load_network(path, "cpu")
