"""Where `python helpers.py train` spends its wall time, stage by stage, in a fresh process.

    MNIST_ROOT=../shared/mnist python benchmarks/startup.py            # main()'s defaults
    MNIST_ROOT=../shared/mnist python benchmarks/startup.py --engine eager

Stages, as main(is_training=True) runs them: Python and the imports (torch, pandas, scikit-learn, matplotlib,
seaborn: the notebook's import cell), decoding and normalising MNIST, building and training the network (the first
epoch apart: it holds whatever runs once), scoring the three splits, saving the model and its card. Prints a
markdown table; nothing else should run on the machine meanwhile.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import helpers as h  # noqa: E402  (the notebook's functions)

IMPORTED = time.perf_counter()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default=h.SETTINGS.engine, choices=h._ENGINES)
    args = parser.parse_args(argv)
    settings = h.SETTINGS.replace(engine=args.engine, dataset_path=os.environ.get("MNIST_ROOT", "data"))
    stages = {"interpreter start and imports (import helpers)": IMPORTED - STARTED}
    clock = time.perf_counter()
    loaders = h.load_data(settings)  # on the device the settings choose, as main() does
    stages["loading the data (decode, resize, normalise)"], clock = time.perf_counter() - clock, time.perf_counter()
    epoch_ends = []
    hook = lambda *_: epoch_ends.append(time.perf_counter())  # noqa: E731
    net, history, _, _ = h.train_new_networks(settings, loaders, [settings.seed], progress=False, on_epoch_end=hook)[0]
    stages["training: the first epoch (with its validation)"] = epoch_ends[0] - clock
    stages[f"training: the other {len(epoch_ends) - 1} epochs"] = epoch_ends[-1] - epoch_ends[0]
    stages["training: restoring the best weights"], clock = time.perf_counter() - epoch_ends[-1], time.perf_counter()
    results = {split: h.score(net, loader.x, loader.y) for split, loader in zip(h._SPLITS, loaders)}
    stages["scoring the three splits"], clock = time.perf_counter() - clock, time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        h.save_network(net, Path(folder) / "model.pt", metadata=h.model_card(settings, results, history, 0.0))
    stages["saving the model and its card"] = time.perf_counter() - clock
    print(
        f"engine {args.engine}; torch._dynamo imported: {'torch._dynamo' in sys.modules}; "
        f"test accuracy {results['test']['accuracy']:.4f}"
    )
    print("| stage | seconds |\n|---|---:|")
    print("\n".join(f"| {stage} | {seconds:.2f} |" for stage, seconds in stages.items()))
    print(f"| **total** | **{sum(stages.values()):.2f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
