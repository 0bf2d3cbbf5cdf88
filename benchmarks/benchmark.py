"""Benchmark: one training epoch of this project's `train` against the usual ways, side by side in one run.

Usage, from the repository root:

    python benchmarks/benchmark.py                      # full run: 50,000 images, batch 64 and 256, 3 repeats
    python benchmarks/benchmark.py --data /path/to/mnist --repeats 5 --batch-sizes 64 128 256
    python benchmarks/benchmark.py --threads 1          # torch.set_num_threads(1) first (see the table's header)
    python benchmarks/benchmark.py --quick              # smoke test: 1,000 images, 1 repeat, 1-epoch accuracy race
    python benchmarks/benchmark.py --output bench.md    # also write the report (.json: as JSON, else markdown)
    python benchmarks/benchmark.py --profile            # where one epoch of `train` spends its time (torch.profiler),
                                                        # and the epoch with torch.compile(network) against eager
    python benchmarks/benchmark.py --seeds-only         # only (f), seeds trained together
    python benchmarks/benchmark.py --products           # only the first layer's matrix products, one way and another

--data defaults to $MNIST_ROOT; it must already hold MNIST (torchvision's MNIST/raw layout): nothing is downloaded.

Every method trains the same network (784-100-50-10, ReLU, dropout 0.2, built by `init_network`, except
scikit-learn's own MLP) with Adam (lr 1e-3) and cross-entropy on the same 50,000 training images (the training split
`loadDataset` draws), for one epoch:

(a) this project's `train`, on the tensors `loadDataset` prepared once, with each engine: 'auto' (the fast engine
    of the notebook's section 3b) and 'eager' (_train_one_epoch's autograd loop). Each figure is the second epoch of a
    two-epoch `train` call, timed by its on_epoch_end hook as a user's code would see it, with 1,000 validation images
    scored after the epoch (the other methods validate nothing).
(b) the usual pipeline: torchvision.datasets.MNIST + ToTensor + Normalize((0.1307,), (0.3081,)), a Subset of the same
    50,000 images, a DataLoader(shuffle=True) with num_workers=0 and 2, and a pytorch/examples-style loop. The
    workers start anew every epoch (DataLoader's default), so their start-up is part of the epoch.
(c) scikit-learn's MLPClassifier(hidden_layer_sizes=(100, 50), solver="adam", max_iter=1) on the same normalised
    images as float32 (no dropout there; its default L2 penalty alpha=1e-4; ConvergenceWarning silenced).
(d), (e) the peer references of benchmarks/references.py, written once to do exactly this work and not tuned since:
    PyTorch by hand (no autograd, masks drawn per epoch, fused Adam), and where JAX is installed
    (pip install -r benchmarks/requirements.txt) JAX + optax with a jitted step and with the whole epoch in lax.scan.

Each figure is the median of --repeats epochs, timed with time.perf_counter. Before timing, every method runs one
untimed warm-up epoch over 2,000 images (250 with --quick). The repeats go round-robin over the methods, so that a
slow spell on a shared machine spreads over all of them, with a half-second pause before each timed epoch (OpenBLAS
threads still spinning after scikit-learn's epoch slowed the next torch epoch by ~15%). One-time data preparation
(decoding, normalising) is timed on its own.

Also reported: (f) seeds trained together: three seeds of one network as one stack (h.train_together) against one
after another on the same (fast) engine, medians of alternated runs; time to accuracy: training seconds until the
network first reaches 98% test accuracy, checked after every epoch (test evaluation is left out of the clock; at most
RACE.training_epochs), for `train` and for the DataLoader loop (num_workers=0) with the same recipe (RACE),
each with its own input normalisation; peak memory (VmHWM, i.e. peak RSS) of a fresh subprocess that only imports,
loads data and trains one epoch, each way. End to end against an earlier commit (`python helpers.py train`, strict
nbval): benchmarks/against_baseline.py.
"""

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(Path(__file__).resolve().parent)]
import references  # noqa: E402  (the peer references, beside this file)

import helpers as h  # noqa: E402  (the notebook's functions; needs the repository root on sys.path)

NETWORK = h.SETTINGS.replace(  # the assignment's example network, and how every timed epoch trains it
    no_of_layers=2,
    neurons_per_layer=[100, 50, 10],
    dropout=0.2,
    image_size=28,
    loss_func="cross_entropy",
    optimizer="adam",
    learning_rate=1e-3,
)
TRAIN_IMAGES, QUICK_TRAIN_IMAGES, WARM_UP_IMAGES = h.SETTINGS.train_size, 1_000, 2_000  # main()'s split
VALID_IMAGES, TEST_IMAGES = h.SETTINGS.val_size, h.SETTINGS.test_size
TARGET_ACCURACY = 0.98
MEMORY_PROBE_BATCH_SIZE = 64
SETTLE_SECONDS = 0.5  # pause before every timed run (scikit-learn's OpenBLAS threads otherwise slow the next one)

REFERENCE = "(a) project train"
EAGER = "(a) project train, engine='eager'"
BY_HAND = "(d) PyTorch by hand (no autograd)"
JAX_STEP = "(e) JAX + optax, jitted step"
JAX_SCAN = "(e) JAX + optax, whole epoch in lax.scan"
VALID_PER_EPOCH = 1_000  # the validation images train scores after every timed epoch, as a user's run would
DATALOADER = "(b) DataLoader, num_workers={}"
SKLEARN = "(c) scikit-learn MLPClassifier"
TABLE_HEADER = "| method | batch size | median seconds | ratio to (a) |"


# From a search over Adam lr 1e-3, 2e-3, 3e-3, batch 64, 128, 256, schedule None (never reached 98% within 30 epochs)
# or OneCycle over 10, 15, 20 or 25 epochs: the fastest recipe that took train to 98% for each of seeds 0, 1 and 2 with
# epochs to spare (OneCycle over 15 epochs at batch 128 is as fast when it gets there, but ends at 97.9-98.1%).
RACE = NETWORK.replace(learning_rate=3e-3, batch_size=256, schedule="onecycle", training_epochs=20)  # time to 98%
RACE_FIELDS = ("learning_rate", "batch_size", "schedule", "training_epochs")


# ---------------------------------------------------------------- machine


def cpu_model():
    "The CPU's model name from /proc/cpuinfo (or what platform knows)."
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def blas_threads():
    "Every native thread pool threadpoolctl finds (BLAS, OpenMP) with its thread count."
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    pools = (f"{pool['prefix']} ({pool['internal_api']}) {pool['num_threads']}" for pool in threadpool_info())
    return ", ".join(pools) or "none"


def machine_facts():
    "What a reader needs to compare this run with another: hardware, threads, versions, date, load."
    import sklearn

    return {
        "cpu": cpu_model(),
        "os.cpu_count()": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "torch interop threads": torch.get_num_interop_threads(),
        "native thread pools (threadpoolctl)": blas_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "scikit-learn": sklearn.__version__,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


# ---------------------------------------------------------------- data


@dataclass
class Data:
    "Everything the methods train and test on: the project's tensors and torchvision's datasets, same images."

    project_train: object  # h.TensorLoader: .x normalised [N, 784] float, .y labels
    project_valid: object
    project_test: object
    usual_train: Subset  # torchvision MNIST (ToTensor + Normalize) restricted to the same training images
    usual_test: torchvision.datasets.MNIST
    preparation_seconds: dict


def usual_transform():
    "The transform of pytorch/examples' MNIST example."
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])


def load_data(root, train_images):
    "Load MNIST both ways, timing each way's one-time preparation (first call in this process)."
    started = time.perf_counter()
    train, valid, test = h.loadDataset(
        root, train_images, VALID_IMAGES, TEST_IMAGES, 64, True, device="cpu", download=False
    )
    project_seconds = time.perf_counter() - started
    started = time.perf_counter()
    usual_full = torchvision.datasets.MNIST(root, train=True, download=False, transform=usual_transform())
    usual_seconds = time.perf_counter() - started
    usual_test = torchvision.datasets.MNIST(root, train=False, download=False, transform=usual_transform())
    usual_train = Subset(usual_full, train.dataset.indices)  # exactly the images loadDataset put in training
    preparation = {
        "h.loadDataset (train + validation + test, decoded and normalised)": project_seconds,
        "torchvision.datasets.MNIST(train=True) (decoded; transforms run per image later)": usual_seconds,
    }
    return Data(train, valid, test, usual_train, usual_test, preparation)


# ---------------------------------------------------------------- one epoch, each way


def new_network(seed=0):
    "The assignment's network, initialised from `seed`, on the CPU."
    torch.manual_seed(seed)
    return h.init_network(
        NETWORK.no_of_layers, NETWORK.image_size**2, NETWORK.neurons_per_layer, NETWORK.dropout, device="cpu"
    )


def project_epoch(data, batch_size, images, engine="auto", net=None):
    """Seconds of one epoch of h.train over the first `images` training images, as its per-epoch hook sees it
    (validating VALID_PER_EPOCH images after it): the second epoch of a two-epoch run, so that the first warms up."""
    net = new_network() if net is None else net
    ends = [time.perf_counter()]
    h.train(
        net,
        data.project_train.x[:images],
        data.project_train.y[:images],
        data.project_valid.x[:VALID_PER_EPOCH],
        data.project_valid.y[:VALID_PER_EPOCH],
        NETWORK.learning_rate,
        2,
        "cross_entropy",
        "adam",
        batch_size=batch_size,
        progress=False,
        engine=engine,
        on_epoch_end=lambda *_: ends.append(time.perf_counter()),
    )
    return ends[2] - ends[1]


def profile_project_epoch(data, batch_size, images, engine="auto", rows=20):
    "torch.profiler's table (operations by their own CPU time) of one h.train epoch, after a warm-up epoch."
    from torch.profiler import ProfilerActivity, profile

    project_epoch(data, batch_size, min(images, WARM_UP_IMAGES), engine)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        project_epoch(data, batch_size, images, engine)
    return profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def compiled_versus_eager(data, batch_size, images, repeats):
    "Median epoch seconds of h.train on the eager network and on torch.compile(network), and the compile seconds."
    eager = statistics.median(project_epoch(data, batch_size, images, "eager") for _ in range(repeats))
    compiled_net = torch.compile(new_network(), dynamic=False)  # a compiled module is no MLP: the eager engine
    started = time.perf_counter()  # the first (short) epochs compile the forward and backward passes
    project_epoch(data, batch_size, min(images, WARM_UP_IMAGES), "eager", net=compiled_net)
    compile_seconds = time.perf_counter() - started
    compiled = statistics.median(
        project_epoch(data, batch_size, images, "eager", net=compiled_net) for _ in range(repeats)
    )
    return eager, compiled, compile_seconds


def optimizer_switches():
    "How each side's Adam is implemented: {method: 'foreach=..., fused=...'} (same algorithm, lr and defaults)."
    # the eager engine's; the fast one's is fused too
    project = h._make_optimizer("adam", new_network(), NETWORK.learning_rate)
    usual = torch.optim.Adam(new_network().parameters(), lr=NETWORK.learning_rate)
    return {
        label: ", ".join(f"{name}={optimizer.defaults.get(name)}" for name in ("foreach", "fused"))
        for label, optimizer in ((REFERENCE, project), ("(b) DataLoader loop", usual))
    }


def usual_loader(dataset, batch_size, num_workers, seed=0):
    "A shuffling DataLoader as the usual MNIST code builds it."
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )


def usual_train_epoch(net, loader, optimizer, scheduler=None):
    "One epoch of the pytorch/examples training loop."
    net.train()
    for images, targets in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(net(images), targets)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


def dataloader_epoch(data, batch_size, images, num_workers):
    "Seconds for one pytorch/examples-style epoch over a DataLoader of the first `images` training images."
    net = new_network()
    optimizer = torch.optim.Adam(net.parameters(), lr=NETWORK.learning_rate)
    subset = Subset(data.usual_train.dataset, data.usual_train.indices[:images])
    started = time.perf_counter()
    usual_train_epoch(net, usual_loader(subset, batch_size, num_workers), optimizer)
    return time.perf_counter() - started


def sklearn_epoch(data, batch_size, images):
    "Seconds for MLPClassifier.fit with max_iter=1 (one epoch) on the first `images` normalised images."
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x = data.project_train.x[:images].numpy()
    y = data.project_train.y[:images].numpy()
    model = MLPClassifier(
        hidden_layer_sizes=(100, 50),
        solver="adam",
        learning_rate_init=NETWORK.learning_rate,
        batch_size=batch_size,
        max_iter=1,
        shuffle=True,
        random_state=0,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return time.perf_counter() - started


_BUILT_REFERENCES = {}  # reference_epoch's cache, kept for the whole run: (kind, batch_size) -> reference


def reference_epoch(kind, data, batch_size, images):
    "Seconds of one epoch of a peer reference (benchmarks/references.py), built once per batch size and kept."
    built = _BUILT_REFERENCES
    key = (kind, batch_size)
    if key not in built:
        weights = [
            (layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy())
            for layer in new_network()
            if isinstance(layer, torch.nn.Linear)
        ]
        built[key] = kind(weights, NETWORK.dropout, NETWORK.learning_rate, batch_size)
    x, y = data.project_train.x[:images], data.project_train.y[:images]
    x, y = (x, y) if kind is references.TorchByHand else (x.numpy(), y.numpy())
    if (key, images) not in built:  # JAX compiles for each data size: once, untimed, for this one too
        built[(key, images)] = built[key].epoch(x, y)
    started = time.perf_counter()
    built[key].epoch(x, y)
    return time.perf_counter() - started


def epoch_methods(data):
    "{row label: function(batch_size, images) -> seconds}, the reference first; JAX's rows where JAX is installed."
    methods = {
        REFERENCE: lambda batch_size, images: project_epoch(data, batch_size, images),
        EAGER: lambda batch_size, images: project_epoch(data, batch_size, images, "eager"),
        DATALOADER.format(0): lambda batch_size, images: dataloader_epoch(data, batch_size, images, 0),
        DATALOADER.format(2): lambda batch_size, images: dataloader_epoch(data, batch_size, images, 2),
        SKLEARN: lambda batch_size, images: sklearn_epoch(data, batch_size, images),
        BY_HAND: lambda batch_size, images: reference_epoch(references.TorchByHand, data, batch_size, images),
    }
    if references.HAVE_JAX:
        methods[JAX_STEP] = lambda batch_size, images: reference_epoch(references.JaxStep, data, batch_size, images)
        methods[JAX_SCAN] = lambda batch_size, images: reference_epoch(references.JaxScan, data, batch_size, images)
    return methods


def warm_up_images(images, batch_size=1):
    "How many images the untimed warm-up epoch runs over: 2,000, or a quarter of a smaller set (a batch at least)."
    return min(images, max(batch_size, min(WARM_UP_IMAGES, images // 4)))


def settle(seconds=SETTLE_SECONDS):
    "Collect garbage and pause, so that the previous method's idle-spinning BLAS threads and exiting workers are gone."
    gc.collect()
    time.sleep(seconds)


def time_epochs(data, batch_sizes, images, repeats):
    "Rows {method, batch size, median seconds, all seconds, ratio to (a)}: warm-up once, then repeats round-robin."
    methods = epoch_methods(data)
    plan = [(label, batch_size) for batch_size in batch_sizes for label in methods]
    for label, batch_size in plan:
        methods[label](batch_size, warm_up_images(images, batch_size))
    seconds = {key: [] for key in plan}
    for repeat in range(repeats):
        for label, batch_size in plan:
            settle()
            seconds[(label, batch_size)].append(methods[label](batch_size, images))
            print(
                f"  repeat {repeat + 1}/{repeats}  {label}, batch {batch_size}: "
                f"{seconds[(label, batch_size)][-1]:.3f} s",
                file=sys.stderr,
                flush=True,
            )
    rows = []
    for label, batch_size in plan:
        median = statistics.median(seconds[(label, batch_size)])
        reference = statistics.median(seconds[(REFERENCE, batch_size)])
        rows.append(
            {
                "method": label,
                "batch size": batch_size,
                "median seconds": median,
                "seconds": seconds[(label, batch_size)],
                "ratio to (a)": median / reference,
            }
        )
    return rows


# ---------------------------------------------------------------- (f) seeds trained together

SEED_CONFIGURATIONS = {  # label: (input size, hidden widths + output, dropout, batch size)
    "784-100-50-10, batch 64": (784, [100, 50, 10], NETWORK.dropout, 64),
    "784-100-50-10, batch 256": (784, [100, 50, 10], NETWORK.dropout, 256),
    "main()'s 400-512-256-10, batch 256": (400, [512, 256, 10], 0.1, 256),
}


def seeds_seconds(data, configuration, seeds, together, epochs=2):
    "Seconds to train `seeds` (fast engine, `epochs` epochs, 1,000-image validation): as one stack or one by one."
    width, sizes, dropout, batch_size = configuration
    x, valid_x = data.project_train.x, data.project_valid.x[:VALID_PER_EPOCH]
    if width != 784:  # main()'s smaller inputs: the same (normalised) images, resized as Preprocessing resizes
        side = int(width**0.5)
        x, valid_x = (
            torch.nn.functional.interpolate(
                images.view(-1, 1, 28, 28), size=(side, side), mode="bilinear", antialias=True
            )
            .flatten(1)
            .contiguous()
            for images in (x, valid_x)
        )
    nets = []
    for seed in seeds:
        h.seed_everything(seed)
        nets.append(h.init_network(len(sizes) - 1, width, sizes, dropout, device="cpu"))
    arguments = (
        x,
        data.project_train.y,
        valid_x,
        data.project_valid.y[:VALID_PER_EPOCH],
        NETWORK.learning_rate,
        epochs,
        "cross_entropy",
        "adam",
    )
    started = time.perf_counter()
    if together:
        h.train_together(nets, list(seeds), *arguments, batch_size=batch_size, progress=False)
    else:
        for net, seed in zip(nets, seeds):
            h.train(net, *arguments, batch_size=batch_size, seed=seed, progress=False, engine="fast")
    return time.perf_counter() - started


def time_seeds_together(data, repeats, seeds=(0, 1, 2)):
    "Rows {configuration, one after another, together, ratio, stack_pays}: medians of `repeats` alternated runs."
    rows = []
    for label, configuration in SEED_CONFIGURATIONS.items():
        seeds_seconds(data, configuration, seeds, True, epochs=1)  # warm-up
        apart, together = [], []
        for _ in range(repeats):
            settle()
            apart.append(seeds_seconds(data, configuration, seeds, False))
            settle()
            together.append(seeds_seconds(data, configuration, seeds, True))
            print(
                f"  seeds {label}: one after another {apart[-1]:.2f} s, together {together[-1]:.2f} s",
                file=sys.stderr,
                flush=True,
            )
        width, sizes, dropout, batch_size = configuration
        pays = h._stack_pays(
            h.init_network(len(sizes) - 1, width, sizes, dropout, device="cpu"), batch_size, len(seeds)
        )
        rows.append(
            {
                "configuration": label,
                "one after another": statistics.median(apart),
                "together": statistics.median(together),
                "ratio": statistics.median(together) / statistics.median(apart),
                "stack_pays": pays,
            }
        )
    return rows


# ---------------------------------------------------------------- the first layer's products


def microseconds(function, repeats):
    "Median over 5 runs of `repeats` calls of function(), in microseconds per call, after repeats // 10 warm-up calls."
    for _ in range(max(1, repeats // 10)):
        function()
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeats):
            function()
        runs.append((time.perf_counter() - started) / repeats * 1e6)
    return statistics.median(runs)


def time_products(repeats, batch_size=64, nets=3):
    """{product: microseconds} for the benchmark network's first layer (784 -> 100) at `batch_size`: one network's
    product on one thread and on all; `nets` networks' as one batched product, whole or cut as the stack cuts it
    (h._first_layer_pieces); oneDNN's float32 product (torch._C._nn.mkldnn_linear) for one network."""
    threads, generator = torch.get_num_threads(), torch.Generator().manual_seed(0)
    x, weight = (
        torch.randn(nets, batch_size, 784, generator=generator),
        torch.randn(nets, 100, 784, generator=generator),
    )
    pieces = h._first_layer_pieces(nets, 784, torch.device("cpu"), threads)
    cut_x, cut_weight = (t.unflatten(2, (pieces, -1)).transpose(1, 2).flatten(0, 1).contiguous() for t in (x, weight))
    rows = {}
    torch.set_num_threads(1)
    rows["one network, torch.mm, 1 thread"] = microseconds(lambda: torch.mm(x[0], weight[0].T), repeats)
    torch.set_num_threads(threads)
    rows[f"one network, torch.mm, {threads} threads"] = microseconds(lambda: torch.mm(x[0], weight[0].T), repeats)
    rows[f"{nets} networks, torch.bmm of {nets} whole products"] = microseconds(
        lambda: torch.bmm(x, weight.transpose(1, 2)), repeats
    )
    rows[f"{nets} networks, torch.bmm of {nets * pieces} cut products (the stack's)"] = microseconds(
        lambda: torch.bmm(cut_x, cut_weight.transpose(1, 2)), repeats
    )
    if torch.backends.mkldnn.is_available():
        dense_weight, bias = weight[0].to_mkldnn(), torch.zeros(100).to_mkldnn()
        rows["one network, oneDNN, converted to its layout and back each call"] = microseconds(
            lambda: torch._C._nn.mkldnn_linear(x[0].to_mkldnn(), dense_weight, bias).to_dense(), repeats
        )
        converted = x[0].to_mkldnn()
        rows["one network, oneDNN, inputs already in its layout"] = microseconds(
            lambda: torch._C._nn.mkldnn_linear(converted, dense_weight, bias), repeats
        )
    return rows


def products_lines(rows):
    "The products' table, with the threads and MKL's instruction-set setting it ran under."
    setting = os.environ.get("MKL_ENABLE_INSTRUCTIONS", "unset")
    return [
        f"The first layer's products (784 -> 100, batch 64), {torch.get_num_threads()} threads, "
        f"MKL_ENABLE_INSTRUCTIONS {setting}; medians of 5 runs:",
        "",
        "| product | microseconds |",
        "|---|---:|",
        *[f"| {name} | {value:.1f} |" for name, value in rows.items()],
    ]


# ---------------------------------------------------------------- (d) time to accuracy


def project_time_to_accuracy(data, recipe, seed, target):
    "(training seconds until test accuracy >= target or None, epochs run, last accuracy) for h.train."
    checks = []  # (started, finished, accuracy) of every per-epoch test evaluation, which the clock leaves out

    def check_test_accuracy(epoch, net, loss_array, accuracy_array):  # train's per-epoch hook: True stops it
        started = time.perf_counter()
        accuracy = h.score(net, data.project_test.x, data.project_test.y)["accuracy"]
        checks.append((started, time.perf_counter(), accuracy))
        return accuracy >= target

    net = new_network(seed)
    began = time.perf_counter()
    # train validates on one image (next to nothing); the hook measures test accuracy after every epoch
    h.train(
        net,
        data.project_train.x,
        data.project_train.y,
        data.project_valid.x[:1],
        data.project_valid.y[:1],
        recipe.learning_rate,
        recipe.training_epochs,
        "cross_entropy",
        "adam",
        batch_size=recipe.batch_size,
        seed=seed,
        schedule=recipe.schedule,
        progress=False,
        on_epoch_end=check_test_accuracy,
    )
    evaluating = sum(finished - started for started, finished, _ in checks[:-1])
    last_started, _, last_accuracy = checks[-1]
    reached = last_accuracy >= target
    return (last_started - began - evaluating if reached else None), len(checks), last_accuracy


@torch.no_grad()
def usual_test_accuracy(net, test_dataset):
    "Test accuracy as pytorch/examples' test() computes it (batches of 1,000)."
    net.eval()
    correct = sum(
        (net(images).argmax(1) == targets).sum().item() for images, targets in DataLoader(test_dataset, batch_size=1000)
    )
    return correct / len(test_dataset)


def usual_time_to_accuracy(data, recipe, seed, target):
    "(training seconds until test accuracy >= target or None, epochs run, last accuracy) for the DataLoader loop."
    net = new_network(seed)
    loader = usual_loader(data.usual_train, recipe.batch_size, num_workers=0, seed=seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=recipe.learning_rate)
    scheduler = None
    if recipe.schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.learning_rate, epochs=recipe.training_epochs, steps_per_epoch=len(loader)
        )
    training, accuracy = 0.0, 0.0
    for epoch in range(1, recipe.training_epochs + 1):
        started = time.perf_counter()
        usual_train_epoch(net, loader, optimizer, scheduler)
        training += time.perf_counter() - started
        accuracy = usual_test_accuracy(net, data.usual_test)
        if accuracy >= target:
            return training, epoch, accuracy
    return None, recipe.training_epochs, accuracy


def time_to_accuracy(data, recipe, repeats, target):
    "Rows {method, reached, median seconds, epochs, accuracies}; one seed per repeat, the methods taking turns."
    races = {REFERENCE: project_time_to_accuracy, DATALOADER.format(0): usual_time_to_accuracy}
    outcomes = {label: [] for label in races}
    for seed in range(repeats):
        for label, race in races.items():
            outcomes[label].append(race(data, recipe, seed, target))
            print(f"  time to accuracy, seed {seed}, {label}: {outcomes[label][-1]}", file=sys.stderr, flush=True)
    rows = []
    for label, results in outcomes.items():
        reached = [seconds for seconds, _, _ in results if seconds is not None]
        rows.append(
            {
                "method": label,
                "reached": f"{len(reached)}/{repeats}",
                "median seconds": statistics.median(reached) if reached else None,
                "epochs": [epochs for _, epochs, _ in results],
                "accuracies": [round(accuracy, 4) for _, _, accuracy in results],
            }
        )
    return rows


# ---------------------------------------------------------------- (e) peak memory


def proc_status_mib(field):
    "A memory field of /proc/self/status (VmRSS, VmHWM), in MiB, or None where there is no /proc."
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return None


def peak_rss_mib():
    """This process's peak resident memory so far, in MiB.

    VmHWM where /proc has it: ru_maxrss of a process started by subprocess (vfork + exec) still holds its parent's
    peak, so here it would report the benchmark's own memory, not the probe's.
    """
    peak = proc_status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def training_indices(pool_size, train_images, seed=0):
    "The training images loadDataset picks (its first draw from a generator seeded `seed`), without loading it."
    pool = torch.randperm(pool_size, generator=torch.Generator().manual_seed(seed))
    return pool[:train_images].sort().values.tolist()


def memory_probe(method, root, train_images):
    "In this (fresh) process: load data and train one epoch `method`'s way; print the RSS figures as JSON."
    figures = {"rss after imports MiB": proc_status_mib("VmRSS")}
    batch_size = MEMORY_PROBE_BATCH_SIZE
    if method == "project":
        splits = (train_images, VALID_IMAGES, TEST_IMAGES)
        train, valid, _ = h.loadDataset(root, *splits, batch_size, True, device="cpu", download=False)
        figures.update({"rss after data MiB": proc_status_mib("VmRSS"), "peak rss after data MiB": peak_rss_mib()})
        data = (train.x, train.y, valid.x, valid.y)
        recipe = (NETWORK.learning_rate, 1, "cross_entropy", "adam")
        h.train(new_network(), *data, *recipe, batch_size=batch_size, progress=False)
    else:
        full = torchvision.datasets.MNIST(root, train=True, download=False, transform=usual_transform())
        dataset = Subset(full, training_indices(len(full), train_images))
        figures.update({"rss after data MiB": proc_status_mib("VmRSS"), "peak rss after data MiB": peak_rss_mib()})
        net = new_network()
        optimizer = torch.optim.Adam(net.parameters(), lr=NETWORK.learning_rate)
        usual_train_epoch(net, usual_loader(dataset, batch_size, 0), optimizer)
    print(json.dumps({**figures, "peak rss MiB": peak_rss_mib()}))


def measure_memory(root, train_images, threads):
    "Rows {method, RSS figures} from one fresh subprocess per method."
    labels = {"project": REFERENCE, "dataloader": DATALOADER.format(0)}
    rows = []
    for method, label in labels.items():
        command = [
            sys.executable,
            __file__,
            "--memory-probe",
            method,
            "--data",
            str(root),
            "--train-images",
            str(train_images),
        ] + (["--threads", str(threads)] if threads else [])
        finished = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append({"method": label, **json.loads(finished.stdout.strip().splitlines()[-1])})
    return rows


# ---------------------------------------------------------------- report


def seconds_text(seconds):
    "Seconds with 3 decimals, or a dash."
    return "–" if seconds is None else f"{seconds:.3f}"


def seeds_together_lines(rows):
    "The seeds-together part of the report, as markdown lines."
    lines = [
        "",
        "Seeds trained together: 3 seeds (0, 1, 2) for 2 epochs on the fast engine, as one stack "
        "(h.train_together) or one after another (h.train), medians of alternated runs; train_new_networks "
        "stacks only where h._stack_pays says so:",
        "",
        "| configuration | one after another s | together s | ratio | stack_pays |",
        "|---|---:|---:|---:|---|",
    ]
    return lines + [
        f"| {row['configuration']} | {row['one after another']:.2f} | {row['together']:.2f} | "
        f"{row['ratio']:.2f} | {row['stack_pays']} |"
        for row in rows
    ]


def markdown_report(report):
    "The whole report as markdown: header, epoch table, preparation, time to accuracy, memory."
    facts, settings = report["machine"], report["settings"]
    lines = [f"# One training epoch over {settings['train images']:,} MNIST images", ""]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    lines += [
        f"- network 784-100-50-10 (ReLU, dropout 0.2), Adam lr {NETWORK.learning_rate:g}, cross-entropy; "
        f"median of {settings['repeats']} repeat(s) after a warm-up epoch over "
        f"{warm_up_images(settings['train images']):,} images",
        "- Adam implementation: "
        + "; ".join(f"{label}: {switches}" for label, switches in settings["adam implementation"].items()),
        "- (a): h.train's second epoch of a two-epoch run (engine 'auto', i.e. fast, or 'eager'), timed by its "
        f"on_epoch_end hook, scoring {VALID_PER_EPOCH:,} validation images after the epoch as a user's run "
        "does; (d), (e): benchmarks/references.py, written once and not tuned; (e) only where JAX is installed",
        "- ratio to (a) = median seconds ÷ (a) project train's at the same batch size (above 1: slower)",
        "",
        TABLE_HEADER,
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {row['method']} | {row['batch size']} | {row['median seconds']:.3f} | {row['ratio to (a)']:.2f} |"
        for row in report["epochs"]
    ]
    lines += [
        "",
        "One-time data preparation (not in the epoch figures; first call in the process):",
        "",
        "| preparation | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {seconds:.3f} |" for name, seconds in report["preparation"].items()]
    lines += seeds_together_lines(report["seeds together"])
    lines += time_to_accuracy_lines(report) + memory_lines(report["memory"])
    return "\n".join(lines) + "\n"


def time_to_accuracy_lines(report):
    "The time-to-accuracy part of the report, as markdown lines (none where it was skipped)."
    if not report["time to accuracy"]:
        return []
    recipe = report["recipe"]
    lines = [
        "",
        f"Time to {TARGET_ACCURACY:.0%} test accuracy (training seconds, test evaluation excluded; "
        f"Adam max lr {recipe['learning_rate']:g}, batch {recipe['batch_size']}, schedule "
        f"{recipe['schedule']}, at most {recipe['training_epochs']} epochs; one seed per repeat):",
        "",
        "| method | reached | median seconds | epochs | test accuracy at stop |",
        "|---|---|---:|---|---|",
    ]
    lines += [
        f"| {row['method']} | {row['reached']} | {seconds_text(row['median seconds'])} | "
        f"{row['epochs']} | {row['accuracies']} |"
        for row in report["time to accuracy"]
    ]
    return lines


def memory_lines(rows):
    "The peak-memory part of the report, as markdown lines."
    lines = [
        "",
        f"Peak memory of a fresh process that imports, loads the data and trains one epoch "
        f"(batch {MEMORY_PROBE_BATCH_SIZE}):",
        "",
        "| method | RSS after imports MiB | RSS after data MiB | peak RSS while loading MiB | peak RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row['method']} | {row['rss after imports MiB']:.0f} | {row['rss after data MiB']:.0f} | "
        f"{row['peak rss after data MiB']:.0f} | {row['peak rss MiB']:.0f} |"
        for row in rows
    ]
    return lines


def write_report(report, path):
    "Write the report to `path`: JSON if it ends in .json, markdown otherwise."
    path = Path(path)
    text = json.dumps(report, indent=2) + "\n" if path.suffix == ".json" else markdown_report(report)
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- command line


INSTEAD = {  # options that run one part alone instead of the benchmark: their help
    "--profile": "profile one epoch of the project's train at the first --batch-sizes (torch.profiler, operations "
    "by their own CPU time) and print the table",
    "--seeds-only": "only (f), seeds trained together against one after another, and print that table",
    "--products": "time the first layer's matrix products (one network's, three networks' batched, whole or cut as "
    "the stack cuts them) and print that table",
}


def argument_parser():
    "The command line's options (parse_arguments reads and checks them)."
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=os.environ.get("MNIST_ROOT"), help="MNIST folder (default: $MNIST_ROOT)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per figure (default: %(default)s)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256], help="(default: %(default)s)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads(N) before anything runs (default: torch's own choice)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: {QUICK_TRAIN_IMAGES:,} images, 1 repeat, 1-epoch time-to-accuracy race",
    )
    parser.add_argument("--skip-time-to-accuracy", action="store_true", help="leave out (d), the slowest part")
    parser.add_argument("--output", help="also write the report here (.json: JSON, else markdown)")
    for option, help_text in INSTEAD.items():
        parser.add_argument(option, action="store_true", help=f"instead: {help_text}")
    parser.add_argument("--memory-probe", choices=["project", "dataloader"], help=argparse.SUPPRESS)
    parser.add_argument("--train-images", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def parse_arguments(argv=None):
    "The command line's options, checked."
    parser = argument_parser()
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("no MNIST folder: pass --data or set MNIST_ROOT")
    if args.repeats < 1 or min(args.batch_sizes) < 1:
        parser.error("--repeats and --batch-sizes must be at least 1")
    if args.quick:
        args.repeats = 1
    if args.train_images is None:
        args.train_images = QUICK_TRAIN_IMAGES if args.quick else TRAIN_IMAGES
    return args


def run_benchmark(args):
    "Run every part and return the report as plain data."
    recipe = RACE.replace(training_epochs=1) if args.quick else RACE
    report = {
        "machine": machine_facts(),
        "recipe": {field: getattr(recipe, field) for field in RACE_FIELDS},
        "settings": {
            "train images": args.train_images,
            "repeats": args.repeats,
            "batch sizes": args.batch_sizes,
            "quick": args.quick,
            "adam implementation": optimizer_switches(),
        },
    }
    data = load_data(args.data, args.train_images)
    report["preparation"] = data.preparation_seconds
    report["epochs"] = time_epochs(data, args.batch_sizes, args.train_images, args.repeats)
    report["seeds together"] = time_seeds_together(data, args.repeats)
    report["time to accuracy"] = (
        [] if args.skip_time_to_accuracy else time_to_accuracy(data, recipe, args.repeats, TARGET_ACCURACY)
    )
    report["memory"] = measure_memory(args.data, args.train_images, args.threads)
    return report


def main(argv=None):
    "Entry point: run the benchmark (or, internally, one memory probe) and print the markdown report."
    args = parse_arguments(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        memory_probe(args.memory_probe, args.data, args.train_images)
        return 0
    if args.profile:
        data = load_data(args.data, args.train_images)
        print(
            f"One epoch of h.train over {args.train_images:,} images at batch size {args.batch_sizes[0]}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads:"
        )
        print(profile_project_epoch(data, args.batch_sizes[0], args.train_images))
        if not args.quick:
            eager, compiled, compile_seconds = compiled_versus_eager(
                data, args.batch_sizes[0], args.train_images, args.repeats
            )
            print(
                f"torch.compile(network), median of {args.repeats} epochs: {compiled:.3f} s per epoch after "
                f"{compile_seconds:.1f} s of compiling; eager: {eager:.3f} s per epoch"
            )
        return 0
    if args.products:
        rows = time_products(50 if args.quick else 2000)
        print(*[f"- {name}: {value}" for name, value in machine_facts().items()], *products_lines(rows), sep="\n")
        return 0
    if args.seeds_only:
        rows = time_seeds_together(load_data(args.data, args.train_images), args.repeats)
        print(*[f"- {name}: {value}" for name, value in machine_facts().items()], *seeds_together_lines(rows), sep="\n")
        return 0
    report = run_benchmark(args)
    print(markdown_report(report))
    if args.output:
        write_report(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
