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
    code = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    unmarked = [source for source in code if not helpers.is_exported(source)]
    assert unmarked, "the notebook has cells that train and plot"
    assert not hasattr(helpers, "train_loader")  # made by an unmarked cell that loads the data
    assert not hasattr(helpers, "IN_COLAB")  # made by the unmarked set-up cell
    notebook = {
        "cells": [
            {"cell_type": "code", "source": ["#| export\n", "x = 1\n"]},
            {"cell_type": "code", "source": ["y = 2  #| export (not the first line)\n"]},
            {"cell_type": "markdown", "source": ["#| export\n"]},
            {"cell_type": "code", "source": "#| export\nz = 3", "metadata": {}},
            {"cell_type": "code", "source": "# @title Folded, with its mark  #| export\nw = 4"},
            {"cell_type": "code", "source": "# @title Folded, no mark\nv = 5"},
            {"cell_type": "code", "source": "# @title A title that only mentions #| export in passing\nu = 6"},
        ]
    }
    (tmp_path / "book.ipynb").write_text(json.dumps(notebook))
    assert [number for number, _ in helpers.exported_cells(tmp_path / "book.ipynb")] == [1, 4, 5]


def test_the_export_mark_is_visible_in_the_cell_not_hidden_in_metadata():
    "Colab shows no cell tags: the mark is in the text, on the one line a folded cell still shows."
    assert sum(1 for _ in helpers.exported_cells()) >= 20
    for _, source in helpers.exported_cells():
        assert helpers.EXPORT_MARK in source.splitlines()[0]


def test_folded_cells_are_folded_in_jupyter_colab_and_html_alike():
    """A folded cell: source_hidden (JupyterLab, Notebook 7), a form with its '# @title' first line (Colab) and the
    hide-input tag (nbconvert's HTML); a cell with any one of them has all three, and no cell has another tag."""
    cells = json.loads(helpers.NOTEBOOK.read_text())["cells"]
    folded = 0
    for number, cell in enumerate(cells, start=1):
        metadata, first = cell["metadata"], "".join(cell["source"]).split("\n", 1)[0]
        marks = (
            metadata.get("jupyter", {}).get("source_hidden", False),
            metadata.get("cellView") == "form",
            metadata.get("tags", []) == ["hide-input"],
            first.startswith(helpers.TITLE_MARK),
        )
        assert all(marks) or not any(marks), (number, marks)
        assert metadata.get("tags", ["hide-input"]) == ["hide-input"], number
        folded += all(marks)
    assert folded >= 30


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
    assert len(helpers.__all__) <= 38 and listed == helpers.__all__  # the assignment's, and a few a user calls
    entries = section[section.index("\n- `") :].strip().splitlines()
    assert all(line.startswith("- `") for line in entries)  # one line each
    assert all(
        callable(getattr(helpers, name)) or name in ("SETTINGS", "_LOSSES", "_OPTIMIZERS") for name in helpers.__all__
    )
    assert "anywidget" not in helpers.__all__ and not any(name.startswith("_") for name in helpers.__all__)


def test_the_html_export_in_the_readme_hides_the_folded_cells_code():
    "nbconvert ignores source_hidden: the README's command removes the code of cells tagged hide-input, and only that."
    nbconvert = pytest.importorskip("nbconvert")
    from traitlets.config import Config

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "--TagRemovePreprocessor.enabled=True --TagRemovePreprocessor.remove_input_tags=hide-input" in readme
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"hide-input"}
    html, _ = nbconvert.HTMLExporter(config=config).from_filename(str(helpers.NOTEBOOK))
    defined = re.findall(r'class="nf">(\w+)<', html)
    assert "loadDataset" in defined and "train" in defined and "_train_one_epoch" in defined  # the story's code
    assert not {"_read_idx", "_stacked_backward", "_atomic_write", "choose_engine"} & set(defined)  # folded code
    assert "MNIST under" in html  # outputs of folded cells and of the rest stay


def test_the_readmes_results_are_the_committed_runs():
    "No figure typed by hand: scripts/results_table.py reads them from the committed notebook and the model's card."
    sys.path.insert(0, str(REPO / "scripts"))
    import results_table

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(results_table.START) + len(results_table.START), readme.index(results_table.END)
    assert readme[start:end].strip() == results_table.table()
