"""Compare ensemble files on the validation split only: accuracy, share answered, accuracy on the answered, ECE, and
the share declined of fresh drawings (seed 11, 40 per kind) of two groups of kinds. The kinds kept unseen are not
looked at. The criterion, set before the runs: a candidate must not lose validation accuracy.

    MNIST_ROOT=../shared/mnist python scripts/compare_ensembles.py runs/ensemble_38min.pt runs/ensemble_ft.pt
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import helpers as h  # noqa: E402

BEFORE = "A E F H M W X Y plus hash star heart arrow check smiley triangle spiral grid scribble".split()
NEW = "C D J L T U V".split()

torch.set_num_threads(2)
settings = h.SETTINGS.replace(image_size=28, use_gpu="cpu")
for path in sys.argv[1:]:
    net = h.load_network(path, "cpu")
    valid = h.load_data(settings, "cpu", preprocessing=net.preprocessing)[1]
    probabilities = h.predict_proba(net, valid.x)
    confidence, predicted = probabilities.max(1)
    answered, right = confidence >= net.threshold, predicted == valid.y
    row = {
        "valid accuracy": right.float().mean().item(),
        "answered": answered.float().mean().item(),
        "accuracy on the answered": right[answered].float().mean().item(),
        "ECE": h.calibration(probabilities, valid.y)[0],
    }
    for name, kinds in (("19 kinds trained before, declined", BEFORE), ("7 new letters, declined", NEW)):
        drawings = net.preprocessing(h.non_digits(kinds, 40, seed=11))
        row[name] = (h.predict_proba(net, drawings).max(1).values < net.threshold).float().mean().item()
    print(path, {key: round(value, 4) for key, value in row.items()}, flush=True)
