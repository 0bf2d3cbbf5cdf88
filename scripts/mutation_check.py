"""Mutation check: plant one plausible bug at a time in the notebook's exported code and run the unit tests.

Every mutant must make a test fail ("killed"); a mutant that survives names a bug the tests would let through.
Each mutant is found by its text in the exported cells (so cells may move), written into a copy of the repository
in a temporary folder, and tested with the test modules that cover that code (the whole suite where none is named).

    python scripts/mutation_check.py            # all mutants; exits 1 if any survives
    python scripts/mutation_check.py --list     # what each mutant changes
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "MNIST_Classification.ipynb"

MUTANTS = [  # (what the bug is, text in an exported cell, its replacement, test modules that should catch it)
    ("train keeps the last epoch, not the best", "if best_state is not None:", "if False:", ["test_exact"]),
    ("the one-cycle schedule is ignored", '    if schedule in (None, "constant"):', "    if True:", ["test_exact"]),
    ("predict_image ignores the network's normalisation", "preprocessing = net.preprocessing or Preprocessing()",
     "preprocessing = Preprocessing()", ["test_exact", "test_predict_image"]),
    ("main reports the splits in the wrong order", "for split, loader in zip(SPLITS, loaders)}",
     "for split, loader in zip(SPLITS, loaders[::-1])}", ["test_exact", "test_main"]),
    ("the training accuracy history holds validation accuracy", "accuracy_array[split].append(accuracy)",
     'accuracy_array[split].append(scores["valid"][1])', ["test_exact"]),
    ("a passed optimizer object is replaced", "    if isinstance(optimizer, torch.optim.Optimizer):\n        return optimizer",
     '    if isinstance(optimizer, torch.optim.Optimizer):\n        return OPTIMIZERS["adam"](net.parameters(), learning_rate, weight_decay)',
     ["test_exact", "test_train"]),
    ("weight decay is ignored", '"adamw": lambda params, lr, weight_decay: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay',
     '"adamw": lambda params, lr, weight_decay: torch.optim.AdamW(params, lr=lr, weight_decay=0.0', ["test_exact"]),
    ("train's seed is ignored", "self._generator = torch.Generator().manual_seed(seed)",
     "self._generator = torch.Generator().manual_seed(0)", ["test_exact", "test_train"]),
    ("the nll loss is applied to raw logits", "F.nll_loss(F.log_softmax(logits, dim=1), target)",
     "F.nll_loss(logits, target)", ["test_exact"]),
    ("precision and recall swapped in the report", "metrics.classification_report(y_true, y_pred,",
     "metrics.classification_report(y_pred, y_true,", ["test_exact", "test_visualize"]),
    ("the most confident mistakes sorted the wrong way", "argsort(descending=True)", "argsort()",
     ["test_exact", "test_visualize"]),
    ("model files written in place, not atomically",
     'handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")',
     "handle, temporary = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), str(path)",
     ["test_bad_input", "test_save_load"]),
    ("normalisation fitted on the validation images", 'Preprocessing.fit(scaled["train"], image_size)',
     'Preprocessing.fit(scaled["valid"], image_size)', ["test_load_dataset"]),
    ("validation overlaps training", '"valid": pool[train_size:train_size + val_size]',
     '"valid": pool[:val_size]', ["test_load_dataset"]),
    ("variance 1 instead of 0.5", "mul_(math.sqrt(self.target_variance) / self.std)", "mul_(1 / self.std)",
     ["test_load_dataset"]),
    ("the epoch loss is a sum over batches, not a mean per image", "loss_sum += loss.detach() * len(yb)",
     "loss_sum += loss.detach()", ["test_train"]),
    ("divergence goes unnoticed", "if train_loss > 100 * max(start_loss, 1e-3):", "if False:", ["test_bad_input"]),
    ("negative labels (-100) accepted", "if len(y) and not 0 <= y.min() <= y.max() < classes:",
     "if len(y) and not y.max() < classes:", ["test_bad_input"]),
    ("a model path ending in .json accepted", 'if path.suffix.lower() == ".json":', "if False:", ["test_bad_input"]),
    ("NaN weights load silently", "if not all(torch.isfinite(tensor).all()", "if not all(True", ["test_bad_input"]),
    ("phone photos read sideways", "image = ImageOps.exif_transpose(opened)", "image = opened", ["test_bad_input"]),
    ("16-bit images clipped", 'if image.mode.startswith("I") or image.mode == "F":', "if False:", ["test_bad_input"]),
    ("main ignores SETTINGS edited after the definition", "settings = SETTINGS.replace(**given, **other_settings)",
     "settings = Settings().replace(**given, **other_settings)", ["test_main"]),
    ("main trains over the shipped model", 'if settings.is_training and "model_path" not in other_settings:',
     "if False:", ["test_bad_input"]),
    ("IDX labels above 9 accepted", 'if kind == "labels" and len(values) and values.max() > 9:', "if False:",
     ["test_bad_input"]),
    ("'better' for any difference, not beyond the spreads", 'np.where(difference > noise, "better"',
     'np.where(difference > 0, "better"', ["test_experiments"]),
    ("no warning when a GPU is asked for but absent",
     '        warnings.warn("A GPU was asked for but CUDA is not available: using the CPU instead.", RuntimeWarning, stacklevel=2)\n',
     "", ["test_init_network", "test_main"]),
    ("the truncated-file check is gone", "if len(data) != header_bytes + math.prod(shape):", "if False:",
     ["test_load_dataset"]),
]


def mutated_notebook(old, new):
    "The notebook's JSON with `old` replaced by `new` in the one exported cell that holds it."
    notebook = json.loads((REPO / NOTEBOOK).read_text(encoding="utf-8"))
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"
             and "".join(cell["source"]).startswith("#| export") and old in "".join(cell["source"])]
    if len(cells) != 1:
        raise SystemExit(f"mutant text found in {len(cells)} exported cells (expected 1): {old!r}")
    cells[0]["source"] = "".join(cells[0]["source"]).replace(old, new, 1)
    return json.dumps(notebook)


def killed(old, new, modules):
    "Whether the tests fail with the mutant planted (in a copy of the repository)."
    with tempfile.TemporaryDirectory() as folder:
        for name in ("helpers.py", "conftest.py", "pytest.ini", "saved_models", "tests"):
            (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, Path(folder) / name)
        (Path(folder) / NOTEBOOK).write_text(mutated_notebook(old, new), encoding="utf-8")
        paths = [f"tests/{module}.py" for module in modules] or ["tests"]
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *paths],
                                cwd=folder, capture_output=True, text=True, env={**os.environ, "MNIST_ROOT": ""})
        return result.returncode != 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    survivors = 0
    for number, (bug, old, new, modules) in enumerate(MUTANTS, start=1):
        if args.list:
            print(f"{number:2d}. {bug}")
            continue
        verdict = "killed" if killed(old, new, modules) else "SURVIVED"
        survivors += verdict == "SURVIVED"
        print(f"{number:2d}. {verdict:8s} {bug}", flush=True)
    if not args.list:
        print(f"\n{len(MUTANTS) - survivors} of {len(MUTANTS)} mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
