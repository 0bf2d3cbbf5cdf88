"""Confirm main()'s defaults on the full split: each configuration trained with several seeds, as main() trains it.

Section 9 of the notebook screens one-factor changes with short runs; a change it calls better (and no slower) joins
main()'s defaults only if it is also better here, on main()'s 50,000 / 10,000 split with main()'s epochs. With --test
the defaults' test accuracy is reported too: the test split is looked at once, for the configuration chosen.

    MNIST_ROOT=../shared/mnist python scripts/confirm_defaults.py --candidate learning_rate=0.009 --test
"""

import argparse
import ast
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import helpers as h  # noqa: E402  (needs the repository root on sys.path first)


def parse_changes(text):
    "'learning_rate=0.009;neurons_per_layer=[1024, 512, 10]' → {'learning_rate': 0.009, 'neurons_per_layer': [...]}."
    pairs = (item.split("=", 1) for item in text.split(";"))
    return {name.strip(): ast.literal_eval(value.strip()) for name, value in pairs}


def label(changes):
    "'learning_rate=0.009, dropout=0.0', or main's defaults."
    return ", ".join(f"{name}={value}" for name, value in changes.items()) or "main's defaults"


def confirm(changes, seeds, test):
    "One table row: the configuration's validation (and test) accuracy over `seeds`, and its training seconds."
    settings = h.SETTINGS.replace(**changes)
    loaders = h.load_data(settings)  # main()'s split (seed 0) for every seed, as in the notebook's experiments
    valid, tested, seconds = [], [], []
    # the seeds train as one stack where that is faster (h._stack_pays): a stack's seconds are shared among its seeds
    for seed, (net, _, spent, _) in zip(seeds, h.train_new_networks(settings, loaders, seeds, progress=False)):
        valid.append(h.score(net, loaders[1].x, loaders[1].y)["accuracy"])
        tested += [h.score(net, loaders[2].x, loaders[2].y)["accuracy"]] if test else []
        seconds.append(spent)
        print(
            f"  {label(changes)}, seed {seed}: valid {valid[-1]:.4f}"
            + (f", test {tested[-1]:.4f}" if test else "")
            + f", {spent:.1f} s",
            flush=True,
        )

    def spread(values):
        return f"{statistics.mean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0:.4f}"

    return (
        f"| {label(changes)} | {spread(valid)} | {spread(tested) if test else '-'} | {statistics.median(seconds):.1f} |"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--candidate",
        action="append",
        default=[],
        type=parse_changes,
        help="changes to the defaults, e.g. 'learning_rate=0.009;batch_size=128' (repeatable)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--test", action="store_true", help="also report the defaults' test accuracy")
    args = parser.parse_args(argv)
    rows = [confirm({}, args.seeds, args.test)] + [confirm(changes, args.seeds, False) for changes in args.candidate]
    print(f"\nseeds {args.seeds}; {h.SETTINGS.train_size:,} training images, {h.SETTINGS.training_epochs} epochs")
    print("| configuration | validation accuracy | test accuracy | median training seconds |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
