"""The notebook's functions, importable: `from helpers import loadDataset, init_network, train, ...`.

The code lives once, in MNIST_Classification.ipynb. Importing this module runs, in order, the notebook's code
cells tagged `export` (the ones that only define things) in this module's namespace. Each cell is compiled under
the name `MNIST_Classification.ipynb#cell-N` (N counts all cells from 1), so tracebacks point into the notebook.

From a terminal: `python helpers.py --help`.
"""
import argparse
import json
import linecache
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().with_name("MNIST_Classification.ipynb")
EXPORT_TAG = "export"


def exported_cells(notebook=NOTEBOOK):
    "(cell number, source) of every code cell tagged `export`, in notebook order."
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    for number, cell in enumerate(cells, start=1):
        if cell["cell_type"] == "code" and EXPORT_TAG in cell.get("metadata", {}).get("tags", []):
            source = cell["source"]
            yield number, source if isinstance(source, str) else "".join(source)


def _run_exported_cells(namespace, notebook=NOTEBOOK):
    for number, source in exported_cells(notebook):
        filename = f"{Path(notebook).name}#cell-{number}"
        # Registering the source lets tracebacks and inspect.getsource show the notebook's lines.
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        exec(compile(source, filename, "exec"), namespace)


_run_exported_cells(globals())


def _command_line(argv=None):
    parser = argparse.ArgumentParser(prog="python helpers.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="print the digit (and its probability) in each image")
    predict.add_argument("images", nargs="+", help="image files or folders of images")
    predict.add_argument("--model", default=MODEL_PATH, help="saved model (default: %(default)s)")

    for name, help_text in (("train", "train a network with main()'s parameters and save it"),
                            ("test", "load a saved model and report its test metrics")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--data", default=DATA_PATH, help="MNIST folder (default: $MNIST_ROOT or %(default)s)")
        # Training writes to runs/ unless told otherwise, so the shipped model is never overwritten by accident.
        default_model = f"{RUNS_DIR}/mnist_mlp.pt" if name == "train" else MODEL_PATH
        sub.add_argument("--model", default=default_model, help="model file (default: %(default)s)")
        sub.add_argument("--train-size", type=int, default=TRAIN_SIZE)
        sub.add_argument("--val-size", type=int, default=VAL_SIZE)
        sub.add_argument("--test-size", type=int, default=TEST_SIZE)
        sub.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        sub.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=USE_GPU)
        sub.add_argument("--visualize", action="store_true", help="also save the figures next to the model")
        if name == "train":
            sub.add_argument("--layers", type=int, default=NO_OF_LAYERS, help="number of hidden layers")
            sub.add_argument("--neurons", type=int, nargs="+", default=NEURONS_PER_LAYER,
                             help="neurons per layer, ending with 10 (default: %(default)s)")
            sub.add_argument("--loss", default=LOSS_FUNC, choices=sorted(LOSSES))
            sub.add_argument("--optimizer", default=OPTIMIZER, choices=sorted(OPTIMIZERS))
            sub.add_argument("--lr", type=float, default=LEARNING_RATE)
            sub.add_argument("--dropout", type=float, default=DROPOUT)
            sub.add_argument("--epochs", type=int, default=TRAINING_EPOCHS)
    args = parser.parse_args(argv)

    if args.command == "predict":
        net = load_network(args.model, device="cpu")
        table = predict_image(args.images if len(args.images) > 1 else args.images[0], net)
        rows = [table] if isinstance(table, dict) else table.to_dict("records")
        for row in rows:
            print(f"{row['source']}: {row['digit']} (p = {row['probability']:.3f})")
        return 0
    common = dict(dataset_path=args.data, train_size=args.train_size, val_size=args.val_size,
                  test_size=args.test_size, batch_size=args.batch_size, use_gpu=args.gpu,
                  visualize_results=args.visualize, model_path=args.model, show=False)
    if args.command == "train":
        main(no_of_layers=args.layers, neurons_per_layer=args.neurons, loss_func=args.loss, optimizer=args.optimizer,
             learning_rate=args.lr, dropout=args.dropout, is_training=True, training_epochs=args.epochs, **common)
    else:
        main(is_training=False, **common)
    return 0


if __name__ == "__main__":
    sys.exit(_command_line())
