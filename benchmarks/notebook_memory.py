"""Peak memory of a full notebook run, cell by cell: current and peak RSS of the kernel process after every code cell.

Usage, from the repository root (Linux: it reads /proc/self/status inside the kernel):

    MNIST_ROOT=../shared/mnist python benchmarks/notebook_memory.py                # MNIST_Classification.ipynb
    MNIST_ROOT=../shared/mnist python benchmarks/notebook_memory.py other.ipynb --top 5

It executes a copy of the notebook (the file itself is not changed) with a probe cell after every code cell, then
prints the kernel's RSS before any cell, then a table: cell number, RSS after the cell, peak RSS so far (VmHWM),
growth of the peak in that cell, and the cell's first line. The last row's peak is the peak of the whole run.
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBE_MARK = "# memory probe"
PROBE = (
    PROBE_MARK
    + """
import re as _re
_status = open('/proc/self/status').read()
print(*(int(_re.search(_key + r':\\s+(\\d+)', _status).group(1)) // 1024 for _key in ('VmRSS', 'VmHWM')))
"""
)


def with_probes(notebook):
    "A copy of `notebook` with a probe after every code cell; returns (copy, [(cell number, first line)])."
    probed, labels = nbformat.from_dict(notebook), []
    cells = [nbformat.v4.new_code_cell(PROBE)]  # the kernel's own memory before any cell: the baseline
    for number, cell in enumerate(notebook.cells):
        cells.append(cell)
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(PROBE))
            first_line = next(
                (line for line in cell.source.splitlines() if not line.startswith(("# NBVAL", "#| "))), ""
            )
            labels.append((number, first_line[:60]))
    probed.cells = cells
    return probed, labels


def probe_readings(executed):
    "[(rss MiB, peak MiB)] from the probes' outputs, in order."
    readings = []
    for cell in executed.cells:
        if cell.cell_type == "code" and cell.source.startswith(PROBE_MARK):
            text = "".join(output.get("text", "") for output in cell.outputs)
            rss, peak = map(int, re.findall(r"\d+", text)[:2])
            readings.append((rss, peak))
    return readings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook", nargs="?", default=str(REPO_ROOT / "MNIST_Classification.ipynb"))
    parser.add_argument("--top", type=int, default=0, help="also list the N cells that raised the peak most")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        parser.error("this probe reads /proc/self/status: Linux only")
    notebook = nbformat.read(args.notebook, as_version=4)
    probed, labels = with_probes(notebook)
    NotebookClient(
        probed,
        timeout=args.timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(args.notebook).resolve().parent)}},
    ).execute()
    baseline, *readings = probe_readings(probed)
    print(f"kernel before any cell: RSS {baseline[0]} MiB\n")
    print("| cell | RSS after, MiB | peak so far, MiB | peak growth, MiB | first line |")
    print("|---:|---:|---:|---:|---|")
    previous_peak, growth = baseline[1], []
    for (number, first_line), (rss, peak) in zip(labels, readings):
        growth.append((peak - previous_peak, number, first_line))
        print(f"| {number} | {rss} | {peak} | {peak - previous_peak} | `{first_line}` |")
        previous_peak = peak
    print(f"\npeak RSS of the whole run: {previous_peak} MiB ({previous_peak / 1024:.2f} GiB)")
    for grew, number, first_line in sorted(growth, reverse=True)[: args.top]:
        print(f"cell {number}: +{grew} MiB  {first_line}")
    return previous_peak


if __name__ == "__main__":
    main()
