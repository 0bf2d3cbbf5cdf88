"""Prove a GPU machine in one command: its facts, the CUDA tests, strict nbval of the notebook, and speed on the GPU.

    python scripts/gpu_check.py                          # every part, on the GPU torch sees
    python scripts/gpu_check.py --facts --bench          # only the parts named
    python scripts/gpu_check.py --mnist .mnist --wheels .whl   # MNIST's four .gz files and missing wheels carried

Parts: --facts (machine and libraries), --tests (tests/test_cuda.py), --nbval (strict nbval of the notebook, as a
grader runs it), --bench (per epoch of the benchmark's network: h.train's fast and eager engines against JAX's
lax.scan, each on the GPU in a process of its own; and main()'s default training, CUDA's start-up excluded). It ends
in one summary table, also written to benchmarks/gpu_check.md (--output). It installs nothing from a registry: a
package the machine lacks (nbval on a bare GPU machine) comes from --wheels, a folder of wheels, or its part is skipped
with the reason. Where there is no GPU it says so and checks what it can (the tests then skip, as in CI).
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = ("facts", "tests", "nbval", "bench")
NEEDED_FOR_NBVAL = ("nbval", "nbformat", "nbclient", "ipykernel", "jupyter_client")


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for part in PARTS:
        parser.add_argument(f"--{part}", action="store_true", help=f"run the {part} part (none named: all)")
    parser.add_argument("--mnist", default=os.environ.get("MNIST_ROOT", "data"), help="MNIST's folder (%(default)s)")
    parser.add_argument("--wheels", help="a folder of wheels to install into a scratch folder where a package lacks")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "gpu_check.md"), help="(default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per engine, median (default: 3)")
    args = parser.parse_args(argv)
    args.parts = [part for part in PARTS if getattr(args, part)] or list(PARTS)
    return args


def environment(args):
    "The environment every child process runs in: MNIST's folder, and the carried wheels' folder on the path."
    env = {**os.environ, "MNIST_ROOT": str(Path(args.mnist).resolve()), "PYTHONUNBUFFERED": "1"}
    missing = [name for name in NEEDED_FOR_NBVAL if not has_module(name)]
    if missing and args.wheels:
        site = Path(tempfile.gettempdir()) / "gpu_check_site"
        wheels = sorted(str(wheel) for wheel in Path(args.wheels).glob("*.whl"))
        command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
        subprocess.run([*command, "--upgrade", "--target", str(site), *wheels], check=True)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
        sys.path.insert(0, str(site))
    return env


def has_module(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def facts():
    "(fact, value) rows: the machine and the libraries that matter here."
    import torch

    rows = [("python", platform.python_version()), ("torch", torch.__version__), ("CUDA (torch)", torch.version.cuda)]
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        rows += [
            (
                "GPU",
                f"{properties.name}, {properties.total_memory / 2**30:.0f} GiB, {properties.multi_processor_count} SMs",
            ),
            ("GPUs", torch.cuda.device_count()),
            ("bfloat16 native", torch.cuda.is_bf16_supported(including_emulation=False)),
        ]
    else:
        rows.append(("GPU", "none: torch.cuda.is_available() is False"))
    jax = run_python("import jax; print(jax.__version__, jax.devices())", {"JAX_PLATFORMS": ""}, timeout=120)
    rows.append(("JAX", jax.stdout.strip() or f"not usable ({last_line(jax.stderr)})"))
    rows.append(("CPU", f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"))
    return rows


def run_python(code, extra_env=None, timeout=600, env=None):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**(env or os.environ), **(extra_env or {})},
    )


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def pytest_part(arguments, env, timeout=480):
    "(passed, pytest's summary line, seconds) of one pytest run."
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    summary = next(
        (line.strip("= ") for line in reversed(result.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", line)),
        last_line(result.stdout + result.stderr),
    )
    if result.returncode not in (0, 5):
        print(result.stdout[-6000:], result.stderr[-3000:], sep="\n")
    verdict = None if result.returncode == 5 else result.returncode == 0  # 5: nothing ran (no GPU: all skipped)
    return verdict, summary, time.perf_counter() - started


def nbval_part(env):
    missing = [name for name in NEEDED_FOR_NBVAL if not has_module(name)]
    if missing:
        return None, f"skipped: {', '.join(missing)} missing (carry wheels: --wheels DIR)", 0.0
    return pytest_part(["--nbval", "MNIST_Classification.ipynb"], env)


TORCH_BENCH = """
import json, statistics, sys, tempfile, time, torch
sys.path[:0] = [{repo!r}, {repo!r} + "/benchmarks"]
import helpers as h
from benchmark import NETWORK, VALID_PER_EPOCH
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
train, valid, _ = h.loadDataset({mnist!r}, 50_000, 10_000, 1, 64, device=device, download=False)
valid_x, valid_y = valid.x[:VALID_PER_EPOCH], valid.y[:VALID_PER_EPOCH]

def epoch_seconds(engine, batch_size):
    ends = []
    torch.manual_seed(0)
    net = h.init_network(2, 784, [100, 50, 10], NETWORK.dropout, device=device)
    hook = lambda *_: ends.append(time.perf_counter())
    options = dict(batch_size=batch_size, engine=engine, progress=False, on_epoch_end=hook)
    data = (train.x, train.y, valid_x, valid_y)
    h.train(net, *data, NETWORK.learning_rate, {epochs}, "cross_entropy", "adam", **options)
    return statistics.median(b - a for a, b in zip(ends, ends[1:]))  # the first epoch warms up; the hook ends synced

rows = {{f"h.train, {{e}} engine, batch {{b}}": epoch_seconds(e, b) for e in ("fast", "eager") for b in (64, 256)}}
with tempfile.TemporaryDirectory() as folder:
    options = dict(dataset_path={mnist!r}, is_training=True, progress=False, show=False)
    h.main(model_path=folder + "/warm.pt", training_epochs=1, **options)  # CUDA's start-up, not timed
    result = h.main(model_path=folder + "/m.pt", **options)
    seconds = h.load_network(folder + "/m.pt", "cpu").metadata["training"]["seconds"]
measured = dict(rows=rows, seconds=seconds, accuracy=result["test"]["accuracy"])
print(json.dumps({{**measured, "engine": result["parameters"]["engine used"]}}))
"""

JAX_BENCH = """
import json, statistics, sys, time
import numpy as np
sys.path[:0] = [{repo!r}, {repo!r} + "/benchmarks"]
import references, torch
import helpers as h
from benchmark import NETWORK
import jax
train, _, _ = h.loadDataset({mnist!r}, 50_000, 1, 1, 64, device="cpu", download=False)
torch.manual_seed(0)
net = h.init_network(2, 784, [100, 50, 10], NETWORK.dropout, device="cpu")
linears = [layer for layer in net if isinstance(layer, torch.nn.Linear)]
weights = [(layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()) for layer in linears]
x, y = train.x.numpy(), train.y.numpy()
rows = {{}}
for batch_size in (64, 256):
    scan = references.JaxScan(weights, NETWORK.dropout, NETWORK.learning_rate, batch_size)
    scan.epoch(x, y)  # compiles
    times = []
    for _ in range({repeats}):
        started = time.perf_counter()
        scan.epoch(x, y)
        times.append(time.perf_counter() - started)
    rows[f"JAX + optax lax.scan, batch {{batch_size}}"] = statistics.median(times)
print(json.dumps({{"rows": rows, "devices": str(jax.devices())}}))
"""


def bench_part(args, env):
    "({row: seconds}, notes): per-epoch seconds on the GPU, torch and JAX each in a process of its own."
    import torch

    if not torch.cuda.is_available():
        return {}, ["skipped: no GPU"]
    values = dict(repo=str(REPO), mnist=str(Path(args.mnist).resolve()), epochs=args.repeats + 1, repeats=args.repeats)
    rows, notes = {}, []
    torch_run = run_python(TORCH_BENCH.format(**values), env=env)
    if torch_run.returncode == 0:
        measured = json.loads(torch_run.stdout.strip().splitlines()[-1])
        rows.update(measured["rows"])
        notes.append(
            f"main()'s default training on the GPU: {measured['seconds']} s ({measured['engine']} engine, "
            f"first epoch included, CUDA start-up excluded), test accuracy {measured['accuracy']:.4f}"
        )
    else:
        notes.append(f"torch benchmark failed: {last_line(torch_run.stderr)}")
        print(torch_run.stderr[-4000:])
    jax_run = run_python(JAX_BENCH.format(**values), {"JAX_PLATFORMS": "cuda"}, env=env)
    if jax_run.returncode == 0:
        measured = json.loads(jax_run.stdout.strip().splitlines()[-1])
        rows.update(measured["rows"])
        notes.append(f"JAX ran on {measured['devices']}")
    else:
        notes.append(f"JAX on the GPU: not run ({last_line(jax_run.stderr)})")
    return rows, notes


def report(args, fact_rows, results, bench_rows, notes, seconds):
    "The summary as markdown: facts, each part's verdict, the benchmark's rows."
    lines = [
        "# GPU check",
        "",
        f"`python scripts/gpu_check.py {' '.join('--' + part for part in args.parts)}`, "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {seconds:.0f} s in all.",
        "",
    ]
    if fact_rows:
        lines += ["| fact | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in fact_rows), ""]
    if results:
        lines += ["| part | verdict | seconds |", "|---|---|---:|"]
        for part, (passed, summary, spent) in results.items():
            verdict = "SKIP" if passed is None else "PASS" if passed else "FAIL"
            lines.append(f"| {part} | {verdict}: {summary} | {spent:.0f} |")
        lines.append("")
    if bench_rows:
        scan = {key.rsplit(" ", 1)[-1]: value for key, value in bench_rows.items() if key.startswith("JAX")}
        lines += [
            "| per epoch, 50,000 images, 784-100-50-10 | median seconds | ratio to JAX's lax.scan |",
            "|---|---:|---:|",
        ]
        for key, value in bench_rows.items():
            batch = key.rsplit(" ", 1)[-1]
            ratio = f"{value / scan[batch]:.2f}" if batch in scan else ""
            lines.append(f"| {key} | {value:.3f} | {ratio} |")
        lines.append("")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    args = parse_arguments(argv)
    started = time.perf_counter()
    env = environment(args)
    fact_rows, results, bench_rows, notes = [], {}, {}, []
    if "facts" in args.parts:
        fact_rows = facts()
    if "tests" in args.parts:
        results["CUDA tests (tests/test_cuda.py)"] = pytest_part(["tests/test_cuda.py", "-rs"], env)
    if "nbval" in args.parts:
        results["strict nbval of the notebook"] = nbval_part(env)
    if "bench" in args.parts:
        bench_rows, notes = bench_part(args, env)
    text = report(args, fact_rows, results, bench_rows, notes, time.perf_counter() - started)
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)
    return 0 if all(passed is not False for passed, _, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
