"""helpers.py: the notebook's exported cells, importable, with tracebacks that point into the notebook."""
import json
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


def test_only_export_cells_run():
    cells = json.loads(helpers.NOTEBOOK.read_text())["cells"]
    untagged = [cell for cell in cells if cell["cell_type"] == "code" and "export" not in cell["metadata"].get("tags", [])]
    assert untagged, "the notebook has cells that train and plot"
    assert not hasattr(helpers, "train_loader")   # made by an untagged cell that loads the data
    assert not hasattr(helpers, "IN_COLAB")       # made by the untagged set-up cell


def test_each_function_is_defined_once_in_the_notebook():
    names = [line.split("(")[0].split()[1] for _, source in helpers.exported_cells()
             for line in source.splitlines() if line.startswith(("def ", "class "))]
    assert len(names) == len(set(names))


def test_tracebacks_point_at_the_notebook_cell():
    with pytest.raises(ValueError) as caught:
        helpers.init_network(2, 784, [10], 0.2)
    frames = traceback.extract_tb(caught.tb)
    assert frames[-1].filename.startswith("MNIST_Classification.ipynb#cell-")
    assert "raise ValueError" in frames[-1].line


def test_terminal_help_lists_the_commands():
    result = subprocess.run([sys.executable, "helpers.py", "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0
    for command in ("predict", "train", "test"):
        assert command in result.stdout
