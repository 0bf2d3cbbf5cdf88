"""Smoke test of benchmarks/benchmark.py: `--quick` runs end to end and prints every part of its report.

Needs the real MNIST: the `mnist_root` fixture (conftest.py) skips these tests where MNIST_ROOT is unset.
No timing is asserted: the figures depend on the machine and on whatever else runs on it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = REPO_ROOT / "benchmarks" / "benchmark.py"
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import references  # noqa: E402  (HAVE_JAX: the JAX rows appear only where JAX is installed)

METHOD_ROWS = [
    "| (a) project train | 64 |",
    "| (a) project train, engine='eager' | 64 |",
    "| (b) DataLoader, num_workers=0 | 64 |",
    "| (b) DataLoader, num_workers=2 | 64 |",
    "| (c) scikit-learn MLPClassifier | 64 |",
    "| (d) PyTorch by hand (no autograd) | 64 |",
] + (
    ["| (e) JAX + optax, jitted step | 64 |", "| (e) JAX + optax, whole epoch in lax.scan | 64 |"]
    if references.HAVE_JAX
    else []
)


@pytest.fixture(scope="module")
def quick_run(mnist_root, tmp_path_factory):
    "The finished `benchmark.py --quick --batch-sizes 64` run (MNIST from MNIST_ROOT) and the JSON report it wrote."
    report = tmp_path_factory.mktemp("benchmark") / "report.json"
    finished = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--batch-sizes", "64", "--output", str(report)],
        cwd=REPO_ROOT,
        env={**os.environ, "MNIST_ROOT": str(mnist_root)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    return finished, report


def test_quick_run_exits_cleanly(quick_run):
    finished, _ = quick_run
    assert finished.returncode == 0, finished.stderr[-3000:]


def test_table_header_and_every_method_row_appear(quick_run):
    finished, _ = quick_run
    assert "| method | batch size | median seconds | ratio to (a) |" in finished.stdout
    for row in METHOD_ROWS:
        assert row in finished.stdout, f"missing row {row!r} in:\n{finished.stdout}"


def test_machine_header_time_to_accuracy_and_memory_appear(quick_run):
    finished, _ = quick_run
    for text in (
        "- cpu:",
        "- os.cpu_count():",
        "- torch threads:",
        "- torch:",
        "- torchvision:",
        "- scikit-learn:",
        "- python:",
        "- date:",
        "Time to 98% test accuracy",
        "peak RSS MiB",
        "Seeds trained together",
        "| main()'s 400-512-256-10, batch 256 |",
    ):
        assert text in finished.stdout, f"missing {text!r} in:\n{finished.stdout}"


def test_output_file_holds_the_report_as_json(quick_run):
    _, report = quick_run
    written = json.loads(report.read_text())
    assert {row["method"] for row in written["epochs"]} == {row.split(" | ")[0].lstrip("| ") for row in METHOD_ROWS}
    assert len(written["memory"]) == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the memory probe reads /proc (Linux only)")
def test_notebook_memory_probe_reports_every_code_cell_and_the_peak(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("a small notebook"),
        nbformat.v4.new_code_cell("block = b\"x\" * (200 * 2 ** 20)   # 200 MiB, every byte written"),
        nbformat.v4.new_code_cell("del block"),
    ]
    path = tmp_path / "small.ipynb"
    nbformat.write(notebook, path)
    finished = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "notebook_memory.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    rows = [line for line in finished.stdout.splitlines() if line.startswith("| ") and "`" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2"]  # one row per code cell, numbered as in the file
    growth_of_allocating_cell = int(rows[0].split("|")[4])
    assert growth_of_allocating_cell >= 200
    peak = int(finished.stdout.split("peak RSS of the whole run: ")[1].split()[0])
    assert peak >= 200 and peak == int(rows[-1].split("|")[3])


def quick_part(option, mnist_root):
    "The finished `benchmark.py --quick OPTION` run of one part alone (--profile, --seeds-only, --products)."
    command = [sys.executable, str(BENCHMARK), "--quick", option, "--data", str(mnist_root)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)


def test_profile_prints_where_an_epoch_of_train_spends_its_time(mnist_root):
    finished = quick_part("--profile", mnist_root)
    assert "Self CPU" in finished.stdout and "aten::addmm" in finished.stdout  # the linear layers' products
    assert "| method |" not in finished.stdout  # a profile instead of the benchmark, not as well


def test_seeds_only_prints_the_seeds_table_for_every_configuration(mnist_root):
    finished = quick_part("--seeds-only", mnist_root)
    rows = [line for line in finished.stdout.splitlines() if line.startswith("| 784-") or line.startswith("| main")]
    assert len(rows) == 3 and all(float(row.split("|")[4]) > 0 for row in rows)  # the ratio column
    assert finished.stdout.startswith("- cpu: ")  # the machine's facts first, as the full report has them
    assert "| method |" not in finished.stdout  # only the seeds' part


def test_products_prints_the_first_layers_products_whole_and_cut(mnist_root):
    finished = quick_part("--products", mnist_root)
    rows = [line for line in finished.stdout.splitlines() if line.startswith(("| one network", "| 3 networks"))]
    assert len(rows) >= 4 and all(float(row.split("|")[2]) > 0 for row in rows)  # the microseconds column
    assert any("cut products (the stack's)" in row for row in rows)
    assert finished.stdout.startswith("- cpu: ") and "| method |" not in finished.stdout  # only the products


def test_the_pad_benchmark_reads_a_drawing_and_refuses_an_oversized_picture():
    "benchmarks/pad.py: every case runs; the one over the bound is refused by the header, the drawings read."
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "pad.py"), "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| one drawing") or "refused" in line]
    assert len(rows) == 3 and "pixels, more than 1120x1120" in rows[2]
    assert all("| digit 1 |" in row for row in rows[:2])


def test_gpu_check_runs_its_parts_and_writes_its_table(tmp_path):
    "scripts/gpu_check.py on a machine without a GPU: it says so, the CUDA tests skip, and the table is written."
    output = tmp_path / "gpu_check.md"
    command = [
        sys.executable,
        str(REPO_ROOT / "scripts" / "gpu_check.py"),
        "--facts",
        "--tests",
        "--output",
        str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = output.read_text()
    assert "| torch |" in text and "| CUDA tests (tests/test_cuda.py) |" in text
    import torch

    if not torch.cuda.is_available():
        assert "none: torch.cuda.is_available() is False" in text and "skipped" in text
