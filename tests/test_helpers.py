"""helpers.py: the notebook's exported cells, importable, with tracebacks that point into the notebook."""

import json
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import helpers

REPO = Path(helpers.__file__).parent


def test_exports_the_assignment_functions():
    for name in ("loadDataset", "init_network", "train", "save_network", "load_network", "test"):
        assert callable(getattr(helpers, name))
        assert getattr(helpers, name).__code__.co_filename.startswith("MNIST_Classification.ipynb#cell-")


def test_only_cells_marked_export_run(tmp_path):
    cells = json.loads(helpers.NOTEBOOK.read_text())["cells"]
    unmarked = [
        cell for cell in cells if cell["cell_type"] == "code" and not "".join(cell["source"]).startswith("#| export\n")
    ]
    assert unmarked, "the notebook has cells that train and plot"
    assert not hasattr(helpers, "train_loader")  # made by an unmarked cell that loads the data
    assert not hasattr(helpers, "IN_COLAB")  # made by the unmarked set-up cell
    notebook = {
        "cells": [
            {"cell_type": "code", "source": ["#| export\n", "x = 1\n"]},
            {"cell_type": "code", "source": ["y = 2  #| export (not the first line)\n"]},
            {"cell_type": "markdown", "source": ["#| export\n"]},
            {"cell_type": "code", "source": "#| export\nz = 3", "metadata": {}},
        ]
    }
    (tmp_path / "book.ipynb").write_text(json.dumps(notebook))
    assert [number for number, _ in helpers.exported_cells(tmp_path / "book.ipynb")] == [1, 4]


def test_the_export_mark_is_visible_in_the_cell_not_hidden_in_metadata():
    cells = json.loads(helpers.NOTEBOOK.read_text())["cells"]
    assert not any(cell["metadata"].get("tags") for cell in cells)  # Colab shows no cell tags
    assert sum(1 for _ in helpers.exported_cells()) >= 20


def test_each_function_is_defined_once_in_the_notebook():
    names = [
        line.split("(")[0].split()[1]
        for _, source in helpers.exported_cells()
        for line in source.splitlines()
        if line.startswith(("def ", "class "))
    ]
    assert len(names) == len(set(names))


def test_tracebacks_point_at_the_notebook_cell():
    with pytest.raises(ValueError) as caught:
        helpers.init_network(2, 784, [10], 0.2)
    frames = traceback.extract_tb(caught.tb)
    assert frames[-1].filename.startswith("MNIST_Classification.ipynb#cell-")
    assert "raise ValueError" in frames[-1].line


def test_terminal_help_lists_the_commands():
    result = subprocess.run(
        [sys.executable, "helpers.py", "--help"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0
    for command in ("predict", "train", "test"):
        assert command in result.stdout


def test_training_script_stops_at_its_time_limit_through_the_epoch_hook(idx_root, tmp_path):
    script = REPO / "scripts" / "train_shipped_model.py"
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            "--dataset-path",
            str(idx_root),
            "--train-size",
            "200",
            "--val-size",
            "50",
            "--test-size",
            "50",
            "--no-of-layers",
            "1",
            "--neurons-per-layer",
            "16",
            "10",
            "--training-epochs",
            "5",
            "--minutes",
            "0",
            "--skip-test",
            "--elastic-alpha",
            "0",
            "--model-path",
            str(tmp_path / "model.pt"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((tmp_path / "model.json").read_text())["metadata"]
    assert card["training"]["epochs_completed"] == 1 and card["training"]["stopped_at_time_limit"] is True
    assert set(card["results"]) == {"train", "valid"}  # --skip-test: the test split is not looked at
    assert card["data"]["train_size"] == 200 and card["training"]["schedule"] == "onecycle"


def test_the_public_names_are_few_and_each_is_listed_in_the_readme():
    readme = (helpers.NOTEBOOK.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What `helpers.py` exports")[1].split("\n## ")[0]
    listed = re.findall(r"^- `(\w+)`: ", section, re.M)
    assert len(helpers.__all__) <= 35 and listed == helpers.__all__
    entries = section[section.index("\n- `") :].strip().splitlines()
    assert all(line.startswith("- `") for line in entries)  # one line each
    assert all(
        callable(getattr(helpers, name)) or name in ("SETTINGS", "_LOSSES", "_OPTIMIZERS") for name in helpers.__all__
    )
    assert "anywidget" not in helpers.__all__ and not any(name.startswith("_") for name in helpers.__all__)
