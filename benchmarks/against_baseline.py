"""End to end against an earlier commit, one after the other on the same machine, with the same Python.

Measures, for this checkout and for a baseline checkout (a git worktree of an earlier commit), taking turns:
- `python helpers.py train` (main()'s default training in a fresh process): the command's wall time, the training
  seconds its model card records, and the test accuracy;
- strict nbval of the notebook, `pytest --nbval MNIST_Classification.ipynb`: its wall time, and from pytest's
  durations the cell that runs section 9's experiments and the cell that trains with main().

    git worktree add /tmp/baseline 715148d
    MNIST_ROOT=../shared/mnist python benchmarks/against_baseline.py /tmp/baseline --repeats 3 --nbval-repeats 2

Ratios are this checkout's median ÷ the baseline's. Nothing else should run on the machine meanwhile.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "MNIST_Classification.ipynb"
CELLS = {"section 9 (experiments)": "runs = run_experiments(", "section 8 (main() trains)": "trained = main("}


def code_cell_numbers(repo):
    "{label: nbval's number of the code cell whose source holds CELLS[label]} in `repo`'s notebook."
    cells = [cell for cell in json.loads((repo / NOTEBOOK).read_text())["cells"] if cell["cell_type"] == "code"]
    sources = ["".join(cell["source"]) for cell in cells]
    return {
        label: next(number for number, source in enumerate(sources) if text in source) for label, text in CELLS.items()
    }


def helpers_train(repo, environment):
    "(wall seconds, training seconds from the card, test accuracy) of `python helpers.py train` in `repo`."
    with tempfile.TemporaryDirectory() as runs:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "helpers.py", "train", "--runs-dir", runs],
            cwd=repo,
            env=environment,
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        card = json.loads((Path(runs) / "mnist_mlp.json").read_text())["metadata"]
    return wall, card["training"]["seconds"], card["results"]["test"]["accuracy"]


def strict_nbval(repo, environment):
    "{'wall': seconds, label: seconds of that cell} for one strict nbval run of `repo`'s notebook."
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", NOTEBOOK, "--durations=0", "-q"],
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"strict nbval failed in {repo}:\n{finished.stdout[-3000:]}")
    durations = {
        int(number): float(seconds)
        for seconds, number in re.findall(rf"([\d.]+)s call\s+{re.escape(NOTEBOOK)}::Cell (\d+)", finished.stdout)
    }
    return {"wall": wall, **{label: durations[number] for label, number in code_cell_numbers(repo).items()}}


def median_table(name, runs):
    "Markdown rows: each figure's median for both checkouts (all runs listed) and the ratio."
    lines = []
    for figure in runs["current"][0]:
        values = {side: [run[figure] for run in side_runs] for side, side_runs in runs.items()}
        medians = {side: statistics.median(side_values) for side, side_values in values.items()}
        shown = {
            side: f"{medians[side]:.4g} ({', '.join(f'{value:.4g}' for value in values[side])})" for side in values
        }
        lines.append(
            f"| {name}: {figure} | {shown['baseline']} | {shown['current']} | "
            f"{medians['current'] / medians['baseline']:.2f} |"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("baseline", type=Path, help="a checkout of the earlier commit (git worktree add DIR COMMIT)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of `helpers.py train` per side")
    parser.add_argument("--nbval-repeats", type=int, default=2, help="strict nbval runs per side (0: none)")
    args = parser.parse_args(argv)
    if not os.environ.get("MNIST_ROOT"):
        parser.error("set MNIST_ROOT to a folder holding MNIST")
    environment = {**os.environ, "MNIST_ROOT": str(Path(os.environ["MNIST_ROOT"]).resolve())}
    sides = {"baseline": args.baseline.resolve(), "current": REPO_ROOT}
    trains = {side: [] for side in sides}
    nbvals = {side: [] for side in sides}
    for repo in sides.values():  # untimed: warm the file cache for both sides alike
        helpers_train(repo, environment)
    for repeat in range(max(args.repeats, args.nbval_repeats)):
        for side, repo in list(sides.items()) if repeat % 2 == 0 else list(sides.items())[::-1]:  # take turns
            if repeat < args.repeats:
                wall, seconds, accuracy = helpers_train(repo, environment)
                trains[side].append({"command wall s": wall, "training s (card)": seconds, "test accuracy": accuracy})
                print(
                    f"  {side} helpers.py train: {wall:.1f} s wall, {seconds:.1f} s training, test {accuracy:.4f}",
                    file=sys.stderr,
                    flush=True,
                )
            if repeat < args.nbval_repeats:
                nbvals[side].append(strict_nbval(repo, environment))
                print(f"  {side} strict nbval: {nbvals[side][-1]}", file=sys.stderr, flush=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=args.baseline, capture_output=True, text=True
    ).stdout.strip()
    print(f"| figure | baseline {commit}: median (runs) | this checkout: median (runs) | ratio |\n|---|---:|---:|---:|")
    print(
        "\n".join(
            median_table("helpers.py train", trains)
            + (median_table("strict nbval", nbvals) if args.nbval_repeats else [])
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
