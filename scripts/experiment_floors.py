"""The floors of the notebook's final checks, from the experiments' table of its committed run.

Each floor is a configuration's mean validation accuracy in that run (three seeds, on a CPU) less a margin: 0.005,
or 0.002 plus three standard errors of a three-seed mean, whichever is more. Another machine draws other random
numbers (a GPU's dropout masks come from another generator), which is like training three other seeds: three
standard errors hold such a mean's wander, 0.002 the arithmetic's. Prints the EXPERIMENT_FLOORS dict to paste:

    python scripts/experiment_floors.py                       # the committed MNIST_Classification.ipynb
    python scripts/experiment_floors.py path/to/notebook.ipynb
"""

import json
import math
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def spread_rows(notebook):
    "(factor, value, mean, std) of validation accuracy, from the output of the cell that prints show_spread(spread)."
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "code" and "print(show_spread(spread))" in "".join(cell["source"]):
            lines = "".join("".join(output.get("text", "")) for output in cell.get("outputs", [])).splitlines()
            values_at, factor = lines[1].index("value"), None  # the second header line: where the values start
            for line in lines[2:]:  # a factor's further rows leave the factor blank
                factor = line[:values_at].strip() or factor
                value, _, valid = re.split(r"\s{2,}", line[values_at:].strip())[:3]
                mean, std = (float(number) for number in valid.split(" ± "))
                yield factor, value, mean, std
            return
    raise SystemExit(f"{notebook}: no executed cell prints show_spread(spread)")


def floor(mean, std, seeds=3):
    margin = max(0.005, 0.002 + 3 * std / math.sqrt(seeds))
    return math.floor(round((mean - margin) * 1000, 6)) / 1000  # round first: 0.9 - 0.005 is 0.89499...


def main(argv=None):
    notebook = (argv or sys.argv[1:] or [REPO / "MNIST_Classification.ipynb"])[0]
    print("EXPERIMENT_FLOORS = {  # (factor, value): floor for the mean validation accuracy over the seeds")
    for factor, value, mean, std in spread_rows(notebook):
        print(f"    ({json.dumps(factor)}, {json.dumps(value)}): {floor(mean, std)},  # mean {mean:.4f} ± {std:.4f}")
    print("}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
