"""The digit pad in a real browser: JupyterLab and Notebook 7 on 127.0.0.1, headless Chromium driven by Playwright.

For each front end: start the server (random port and token), open a small notebook that shows DigitPad for the
shipped model, run it, draw a 1, a 0 and a 7 with the mouse, an A (which the pad declines: "not a digit?") and a 1
with touch events, wait for the pad to read each, press Clear, and fail on any error the page reports from the pad
(the front ends' own start-up noise aside). Needs Debian's chromium (`.ci/run` installs it) and the playwright
package (requirements-dev.txt); skipped with the reason where either is missing, except in CI, where it fails.
DIGIT_PAD_SCREENSHOT=path.png saves screenshots of the pad in JupyterLab reading the 7 (path.png) and declining the A
(path_declines_a.png); the notebook shows both, the README the first.
Also: the committed notebook, opened in JupyterLab at 1440x900 as a reader meets it, shows the top of its first digit
picture within the first three screens (NOTEBOOK_SCREENSHOTS=folder saves those screens, as docs/ shows them).
"""

import contextlib
import json
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IN_CI = os.environ.get("CI") == "true"
if not CHROMIUM or not shutil.which("jupyter-lab", path=str(Path(sys.executable).parent)):
    if IN_CI:
        raise RuntimeError("CI must run the browser test: chromium or jupyterlab is missing (see .ci/run)")
    pytest.skip(
        "no chromium (Debian's package) or jupyterlab here: the browser test needs both", allow_module_level=True
    )
if IN_CI:
    import playwright.sync_api  # noqa: F401  (in CI a missing playwright is a failure, not a skip)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements-dev.txt (playwright)")

STROKES = {  # digit: strokes, each a list of points as fractions of the canvas
    "1": [[(0.5, 0.15), (0.5, 0.85)]],
    "0": [
        [(0.5 + 0.25 * math.sin(t / 24 * 2 * math.pi), 0.5 - 0.35 * math.cos(t / 24 * 2 * math.pi)) for t in range(25)]
    ],
    "7": [[(0.25, 0.18), (0.75, 0.18), (0.42, 0.85)]],
}
LETTER_A = [[(0.22, 0.85), (0.5, 0.15), (0.78, 0.85)], [(0.33, 0.6), (0.67, 0.6)]]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pad_notebook(folder):
    "A notebook that shows the pad for the shipped model, written into `folder`."
    source = (
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\nimport helpers\n"
        f"pad = helpers.DigitPad(helpers.load_network({str(REPO / 'saved_models' / 'mnist_mlp.pt')!r}, 'cpu'))\n"
        "pad"
    )
    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": "pad", "metadata": {}, "outputs": [], "source": source}
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / "pad.ipynb").write_text(json.dumps(notebook))


@contextlib.contextmanager
def jupyter_server(front_end, folder):
    "A Jupyter server (JupyterLab or Notebook 7) for `folder` on a random port with a token: (base URL, token)."
    port, token = free_port(), secrets.token_hex(16)
    app = "LabApp" if front_end == "lab" else "JupyterNotebookApp"
    environment = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(folder / "config"),
        "IPYTHONDIR": str(folder / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(folder / "lab-settings"),
        "MPLBACKEND": "Agg",
    }
    news = folder / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text('{"fetchNews": "false"}')  # no "would you like news?" toast over the notebook
    command = [
        sys.executable,
        "-m",
        "jupyter",
        front_end,
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        f"--{app}.expose_app_in_browser=True",
    ]
    with open(folder / "server.log", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the Jupyter server did not start:\n{(folder / 'server.log').read_text()}"
                    ) from error
                time.sleep(0.5)
        yield base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(params=["lab", "notebook"])
def server(request, tmp_path):
    "JupyterLab or Notebook 7 serving a small notebook that shows the pad: (front end, base URL, token)."
    pad_notebook(tmp_path)
    with jupyter_server(request.param, tmp_path) as (base, token):
        yield request.param, base, token


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def draw(page, canvas, strokes):
    "Draw `strokes` on the canvas with the mouse."
    box = canvas.bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=8)
        page.mouse.up()


def draw_with_touch(page, canvas, stroke):
    "Draw one stroke with touch events (Chrome's DevTools protocol), as a finger would."
    box = canvas.bounding_box()
    session = page.context.new_cdp_session(page)
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
    steps = [points[0]] + [
        (a[0] + (b[0] - a[0]) * i / 8, a[1] + (b[1] - a[1]) * i / 8)
        for a, b in zip(points, points[1:])
        for i in range(1, 9)
    ]
    session.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": steps[0][0], "y": steps[0][1]}]}
    )
    for x, y in steps[1:]:
        session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def clear(page):
    page.locator(".digit-pad button", has_text="Clear").click()
    page.wait_for_selector('.digit-pad-digit[data-digit=""]', timeout=20_000)


def test_the_pad_reads_drawn_digits_in_a_real_browser(server, browser):
    front_end, base, token = server
    page = browser.new_context(has_touch=True, viewport={"width": 1200, "height": 900}).new_page()
    errors, pad_shown = [], []  # an error before the pad shows is the front end's own, unless it names the pad's code
    page.on("pageerror", lambda error: errors.append((bool(pad_shown), f"{error}\n{error.stack}")))
    path = "lab/tree/pad.ipynb" if front_end == "lab" else "notebooks/pad.ipynb"
    page.goto(f"{base}/{path}?token={token}")
    notebook = "window.jupyterapp && window.jupyterapp.shell.currentWidget"  # the open notebook's panel
    kernel = f"{notebook}.sessionContext.session?.kernel"
    # run the notebook once its kernel is connected and idle (cells sent earlier may wait forever)
    page.wait_for_function(
        f"() => {notebook} && {kernel}?.connectionStatus === 'connected' && {kernel}?.status === 'idle'", timeout=90_000
    )
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    canvas = page.wait_for_selector(".digit-pad canvas", timeout=120_000)
    pad_shown.append(True)
    canvas.scroll_into_view_if_needed()
    assert page.get_attribute(".digit-pad-digit", "data-digit") == ""
    assert page.locator(".digit-pad-row").count() == 10  # all ten bars, before anything is drawn
    for digit, strokes in STROKES.items():
        draw(page, canvas, strokes)
        page.wait_for_selector(f'.digit-pad-digit[data-digit="{digit}"]', timeout=20_000)
        if digit == "7" and front_end == "lab" and os.environ.get("DIGIT_PAD_SCREENSHOT"):
            page.locator(".digit-pad").screenshot(path=os.environ["DIGIT_PAD_SCREENSHOT"])
        clear(page)
    draw(page, canvas, LETTER_A)  # no digit: the pad declines it, and still shows the ten bars
    page.wait_for_selector(".digit-pad-digit.digit-pad-declined", timeout=20_000)
    assert page.inner_text(".digit-pad-digit") == "not a digit?" and page.locator(".digit-pad-row").count() == 10
    if front_end == "lab" and os.environ.get("DIGIT_PAD_SCREENSHOT"):
        page.locator(".digit-pad").screenshot(
            path=os.environ["DIGIT_PAD_SCREENSHOT"].replace(".png", "_declines_a.png")
        )
    clear(page)
    draw_with_touch(page, canvas, STROKES["1"][0])
    page.wait_for_selector('.digit-pad-digit[data-digit="1"]', timeout=20_000)
    clear(page)
    assert page.locator(".digit-pad-row").count() == 10
    pads = [text for after, text in errors if after or any(mark in text for mark in ("anywidget", "blob:"))]
    assert pads == [], f"page errors from the pad:\n{pads}"


def test_a_reader_meets_the_first_digits_within_three_screens(tmp_path, browser):
    "The notebook as committed (folded cells and collapsed parts as saved), scrolled a screen at a time."
    shutil.copy(REPO / "MNIST_Classification.ipynb", tmp_path)
    with jupyter_server("lab", tmp_path) as (base, token):
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.goto(f"{base}/lab/tree/MNIST_Classification.ipynb?token={token}")
        scroller = page.wait_for_selector(".jp-NotebookPanel .jp-WindowedPanel-outer", timeout=90_000)
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
        page.wait_for_timeout(2000)  # let the first cells lay out
        screen = scroller.evaluate("element => element.clientHeight")
        top = None
        for number in range(3):
            scroller.evaluate(f"element => {{ element.scrollTop = {number * screen}; }}")
            page.wait_for_timeout(1000)
            if os.environ.get("NOTEBOOK_SCREENSHOTS"):
                page.screenshot(path=str(Path(os.environ["NOTEBOOK_SCREENSHOTS"]) / f"first_screens_{number + 1}.png"))
            # where the first output picture starts, in the notebook's scrolled coordinates
            top = scroller.evaluate(
                """element => {
                    const image = element.querySelector(".jp-OutputArea-output img");
                    return image && element.scrollTop + image.getBoundingClientRect().top
                        - element.getBoundingClientRect().top;
                }"""
            )
            if top is not None and top < (number + 1) * screen:
                break
        assert top is not None and top < 3 * screen, f"the first digit picture starts at {top} px, screens are {screen}"
