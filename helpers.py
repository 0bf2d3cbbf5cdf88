"""The notebook's functions, importable: `from helpers import loadDataset, init_network, train, ...`.

The code lives once, in MNIST_Classification.ipynb. Importing this module runs, in order, the notebook's code
cells marked `#| export` (the cells that only define things) in this module's namespace. The mark is the cell's first
line, or ends it after a title, `# @title The epoch loop  #| export` (the line a folded cell shows in Jupyter and, as
a form's title, in Colab). Each cell is compiled under the name `MNIST_Classification.ipynb#cell-N` (N counts all
cells from 1), so tracebacks point into the notebook.

From a terminal: `python helpers.py --help`.
"""

import argparse
import ast
import json
import linecache
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().with_name("MNIST_Classification.ipynb")
EXPORT_MARK = "#| export"
TITLE_MARK = "# @title "  # Colab's form title: the one line a folded cell shows


def is_exported(source):
    "Whether a code cell is marked for export: its first line `#| export`, or a `# @title ...  #| export` line."
    first = source.split("\n", 1)[0].rstrip()
    return first == EXPORT_MARK or (first.startswith(TITLE_MARK) and first.endswith(f"  {EXPORT_MARK}"))


def exported_cells(notebook=NOTEBOOK):
    "(cell number, source) of every code cell marked for export (is_exported), in notebook order."
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    for number, cell in enumerate(cells, start=1):
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "code" and is_exported(source):
            yield number, source


def _run_exported_cells(namespace, notebook=NOTEBOOK):
    for number, source in exported_cells(notebook):
        filename = f"{Path(notebook).name}#cell-{number}"
        # Registering the source lets tracebacks and inspect.getsource show the notebook's lines.
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        exec(compile(source, filename, "exec"), namespace)


def _public_names(notebook=NOTEBOOK):
    """What `from helpers import *` gives: the names the exported cells define (def, class, assignment) without a
    leading underscore, in notebook order; a module's fallback binding (`anywidget = None`) is not one."""
    imported, defined = set(), []

    def visit(statements):
        for node in statements:
            if isinstance(node, (ast.If, ast.Try)):  # definitions made only on one branch still count
                visit(
                    node.body
                    + node.orelse
                    + [line for handler in getattr(node, "handlers", []) for line in handler.body]
                    + getattr(node, "finalbody", [])
                )
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                imported.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.append(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                defined.extend(target.id for target in targets if isinstance(target, ast.Name))

    for _, source in exported_cells(notebook):
        visit(ast.parse(source).body)
    return list(dict.fromkeys(name for name in defined if not name.startswith("_") and name not in imported))


_run_exported_cells(globals())
__all__ = [*_public_names(), "settings_options"]  # and this file's one: a command line from Settings


def settings_options(parser, defaults):
    "Add to an argparse `parser` one option per field of the notebook's Settings, its default taken from `defaults`."
    for name in _SETTING_NAMES:
        if name == "is_training":  # the command says it: train or test
            continue
        default, flag = getattr(defaults, name), "--" + name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, list):
            parser.add_argument(flag, type=type(default[0]), nargs="+", default=default, help="(default: %(default)s)")
        else:
            parser.add_argument(flag, type=type(default), default=default, help="(default: %(default)s)")


def _command_line(argv=None):
    parser = argparse.ArgumentParser(prog="python helpers.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="print the digit (and its probability) in each image")
    predict.add_argument("images", nargs="+", help="image files or folders of images")
    predict.add_argument("--model", default=SETTINGS.model_path, help="saved model (default: %(default)s)")
    for name, help_text in (
        (
            "train",
            "train a network with main() and save it (to <runs-dir>/mnist_mlp.pt unless --model-path says otherwise)",
        ),
        ("test", "load a saved model (--model-path) and report its metrics with main()"),
    ):
        settings_options(commands.add_parser(name, help=help_text), SETTINGS)
    commands.choices["train"].set_defaults(model_path=None)  # main() decides: <runs-dir>/mnist_mlp.pt
    args = vars(parser.parse_args(argv))
    command = args.pop("command")
    try:
        _run_command(command, args)
    except (ValueError, OSError, MemoryError, FloatingPointError) as error:  # refusals: the message says it all
        parser.exit(1, f"{parser.prog} {command}: error: {error}\n")
    return 0


def _run_command(command, args):
    if command == "predict":
        images = args["images"] if len(args["images"]) > 1 else args["images"][0]  # one folder: its images
        table = predict_image(images, load_network(args["model"], device="cpu"))
        for row in table.to_dict("records"):
            print(f"{row['source']}: {row['digit']} (p = {row['probability']:.3f})")
    else:
        args["is_training"] = command == "train"
        figures_dir = Path(args["runs_dir"]) / f"{Path(args['model_path'] or 'mnist_mlp').stem}_figures"
        main(**args, show=False, figures_dir=figures_dir if args["visualize_results"] else None)


if __name__ == "__main__":
    sys.exit(_command_line())
