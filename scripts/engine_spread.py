"""How far the fast engine's results stray from the eager loop's, over many data sets: the tolerances of
tests/test_engines.py come from this spread, not from one run.

For each optimizer x schedule the tests compare, it trains the tests' network both ways (3 epochs, dropout off,
weight decay 0.01) on synthetic digits drawn with several seeds, and prints the largest difference of any epoch's
loss and of any weight, with the median over the data sets:

    python scripts/engine_spread.py              # 10 data sets
    python scripts/engine_spread.py --datasets 20
"""

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_engines import COMBINATIONS, fresh_net  # noqa: E402

import helpers  # noqa: E402
from conftest import synthetic_digits  # noqa: E402  (the tests' data, drawn with other seeds)


def differences(optimizer, schedule, data_seed):
    "(largest loss difference, largest weight difference) between the engines on one data set."
    images, labels = synthetic_digits(300, data_seed)
    x = helpers.Preprocessing(28, mean=0.25, std=0.2)(torch.from_numpy(images))
    y = torch.from_numpy(labels).long()
    learning_rate = 0.05 if optimizer in ("sgd", "adagrad") else 3e-3
    options = dict(batch_size=32, seed=3, progress=False, weight_decay=0.01, schedule=schedule)
    runs = [
        helpers.train(
            fresh_net(),
            x[:200],
            y[:200],
            x[200:],
            y[200:],
            learning_rate,
            3,
            "cross_entropy",
            optimizer,
            engine=engine,
            **options,
        )
        for engine in ("eager", "fast")
    ]
    (eager_net, eager_loss, _), (fast_net, fast_loss, _) = runs
    loss = max(abs(a - b) for split in ("train", "valid") for a, b in zip(eager_loss[split], fast_loss[split]))
    weight = max((a - b).abs().max().item() for a, b in zip(eager_net.parameters(), fast_net.parameters()))
    return loss, weight


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=10, help="data sets per combination (default: %(default)s)")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.datasets} data sets (seeds 10 on)")
    print("| optimizer | schedule | loss: largest | loss: median | weight: largest | weight: median |")
    print("|---|---|---:|---:|---:|---:|")
    for optimizer, schedule in COMBINATIONS:
        found = [differences(optimizer, schedule, seed) for seed in range(10, 10 + args.datasets)]
        losses, weights = zip(*found)
        print(
            f"| {optimizer} | {schedule} | {max(losses):.1e} | {statistics.median(losses):.1e} | "
            f"{max(weights):.1e} | {statistics.median(weights):.1e} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
