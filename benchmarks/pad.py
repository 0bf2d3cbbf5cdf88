"""The digit pad's costs, as a browser's pictures make them: reading one drawing while drawing (the 280x280 canvas at
screen density 1 and at the front end's highest, 4), reading the largest picture read_pad accepts (1120x1120), and
refusing one past that bound (9400x9400 pixels in half a megabyte: what an unbounded canvas could send).
Medians of --repeats runs each, and the peak memory a call allocates beyond the process's (tracemalloc, for
Python's and NumPy's allocations, and the change in peak RSS):

    python benchmarks/pad.py                       # the shipped model
    python benchmarks/pad.py --model runs/mnist_mlp.pt --repeats 20
"""

import argparse
import base64
import io
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import helpers as h  # noqa: E402


def drawing(side, strokes=((0.5, 0.15), (0.5, 0.85)), background=(0, 0, 0, 0)):
    "A picture as the pad's front end sends it: a transparent canvas of `side` pixels, a black stroke, as a data URL."
    image = Image.new("RGBA", (side, side), background)
    points = [(x * side, y * side) for x, y in strokes]
    ImageDraw.Draw(image).line(points, fill=(0, 0, 0, 255), width=max(2, side // 12))
    stream = io.BytesIO()
    image.save(stream, "PNG", optimize=True)
    return h._DRAWING_PREFIX + base64.b64encode(stream.getvalue()).decode()


def measure(call, repeats):
    "(median seconds, peak MiB tracemalloc saw in one call, growth of the process's peak RSS in MiB) of call()."
    call()  # warm-up: first-call costs (imports, allocator) are not the pad's
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    return statistics.median(times), peak / 2**20, rss_growth


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / h.SETTINGS.model_path))
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    net = h.load_network(args.model, "cpu")
    oversized = Image.new("L", (9400, 9400), 255)
    stream = io.BytesIO()
    oversized.save(stream, "PNG", optimize=True)
    cases = {
        "one drawing, 280x280 (density 1)": drawing(280),
        "one drawing, 1120x1120 (density 4, the largest accepted)": drawing(1120),
        f"a 9400x9400 picture of {len(stream.getvalue()) / 1e6:.1f} MB, refused": h._DRAWING_PREFIX
        + base64.b64encode(stream.getvalue()).decode(),
    }
    print(
        f"model {args.model} ({type(net).__name__}), torch threads {h.torch.get_num_threads()}, repeats {args.repeats}"
    )
    print("| picture | answer | median ms | peak MiB (tracemalloc) | peak RSS growth MiB |")
    print("|---|---|---:|---:|---:|")
    for name, picture in cases.items():
        probabilities, digit, message = h.read_pad(picture, net)
        answer = message or (f"digit {digit}" if digit is not None else "nothing")
        seconds, traced, rss = measure(lambda picture=picture: h.read_pad(picture, net), args.repeats)
        print(f"| {name} | {answer[:80]} | {seconds * 1000:.1f} | {traced:.1f} | {rss:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
