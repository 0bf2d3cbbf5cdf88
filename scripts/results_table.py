"""The README's results at a glance, read from the committed run of the notebook and the shipped model's card, so that
no figure is typed by hand (tests/test_helpers.py fails when the README's table and this one differ):

    python scripts/results_table.py            # print the table
    python scripts/results_table.py --write    # and put it into README.md, between its results markers
"""

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK, CARD, README = (
    REPO / "MNIST_Classification.ipynb",
    REPO / "saved_models" / "mnist_mlp.json",
    REPO / "README.md",
)
START, END = "<!-- results: python scripts/results_table.py --write -->", "<!-- /results -->"
MEMBER_RUN = (  # the new member's own run (its card predates members recording their command)
    "`MNIST_ROOT=../shared/mnist python scripts/train_ensemble.py --widths 2048 2048 --epochs 100 --members 1 "
    "--minutes 85 --base runs/base_2048.pt --members-dir runs/members --first-seed 200`"
)
RUN = "`MNIST_ROOT=../shared/mnist jupyter nbconvert --to notebook --execute --inplace MNIST_Classification.ipynb`"


def cell_output(marker):
    "The text the committed notebook's code cell holding `marker` printed."
    for cell in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code" and marker in "".join(cell["source"]):
            return "".join("".join(output.get("text", "")) for output in cell.get("outputs", []))
    raise SystemExit(f"no cell holds {marker!r}")


def rows():
    "(figure, value, command) of each result."
    main_run = cell_output("trained = main(")
    test = re.search(r"^test\s+([\d.]+)\s+([\d.]+)", main_run, re.M)
    shipped = json.loads(CARD.read_text(encoding="utf-8"))["metadata"]
    results = shipped["results"]["test"]
    new_members = [member for member in shipped["members"] if member.get("recipe") == "this script"]
    seconds = sum(member["seconds"] for member in new_members)
    heading, *lines = cell_output("figures = {").strip().splitlines()
    if heading != "The shipped model":  # the committed run must be of saved_models/, not of a stand-in
        raise SystemExit(f"the notebook's committed run did not use the shipped model: {heading!r}")
    figures = dict(line.rsplit(None, 1) for line in lines if line.strip() and not line.startswith("("))
    train_ensemble = f"`MNIST_ROOT=../shared/mnist {shipped['command']}`"  # the vote: its members were trained before
    return [
        ("`main()`'s default network: test accuracy (loss)", f"{float(test[2]):.4f} ({float(test[1]):.4f})", RUN),
        ("the shipped model: test accuracy, every digit answered", f"{results['accuracy']:.4f}", train_ensemble),
        ("the shipped model: test digits answered", f"{results['answered']:.4f}", train_ensemble),
        ("the shipped model: accuracy on the answered", f"{results['accuracy on the answered']:.4f}", train_ensemble),
        ("the shipped model: calibration error on test (ECE)", f"{results['ece']:.4f}", train_ensemble),
        *[
            (f"the shipped model: {name}", value, RUN)
            for name, value in figures.items()
            if name.startswith(("non-", "sci"))
        ],
        (
            f"the shipped model's training beyond its base ({len(new_members)} member), on a 2-core CPU",
            f"{seconds / 60:.0f} minutes",
            MEMBER_RUN,
        ),
    ]


def table():
    lines = ["| figure | value | command that makes it |", "| --- | ---: | --- |"]
    return "\n".join(lines + [f"| {figure} | {value} | {command} |" for figure, value, command in rows()])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="put the table into README.md")
    args = parser.parse_args(argv)
    text = table()
    print(text)
    if args.write:
        readme = README.read_text(encoding="utf-8")
        start, end = readme.index(START) + len(START), readme.index(END)
        README.write_text(readme[:start] + "\n" + text + "\n" + readme[end:], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
