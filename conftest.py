"""Backstop for `pytest --nbval`: sanitise, in both the committed and the fresh outputs, the text that legitimately
differs from machine to machine, before nbval compares them.

The notebook already keeps such text out of the cells nbval checks (tests/test_grading.py scans for it); these
patterns only stop a stray device name, path separator, byte size, timing, figure size or memory address from
failing a grade on another machine. They are attached to every notebook nbval collects from this folder, so plain
`pytest --nbval MNIST_Classification.ipynb` uses them without any option.
"""

import re

SANITIZE_PATTERNS = {
    r"\b(cpu|cuda(:\d+)?|mps)\b": "DEVICE",
    r"<Figure size \d+x\d+ with (\d+) Axes>": r"<Figure with \1 Axes>",  # pixel size moves with dpi
    r"\b\d+(\.\d+)?\s?(B|bytes|kB|KB|KiB|MB|MiB|GB|GiB)\b": "SIZE",
    r"\b\d+(\.\d+)?\s?(s|ms|µs|seconds|minutes|it/s|epoch/s)\b": "TIME",
    r"\b0x[0-9a-fA-F]{6,}\b": "0xADDRESS",
    r"\\": "/",  # Windows path separators
}


def sanitize(text):
    "The text as nbval compares it: every pattern above replaced."
    for pattern, replacement in SANITIZE_PATTERNS.items():
        text = re.sub(pattern, replacement, text)
    return text


def pytest_collection_modifyitems(items):
    "Give every nbval notebook these patterns (on top of any --nbval-sanitize-with file)."
    for item in items:
        patterns = getattr(item.parent, "sanitize_patterns", None)  # only nbval's notebook collector has them
        if patterns is not None:
            patterns.update(SANITIZE_PATTERNS)
