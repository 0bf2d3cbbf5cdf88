"""Can a distance from the training digits tell a non-digit where the surest probability cannot? Each score below is
the distance of an image from MNIST's training digits, in one place: a member's hidden layer (the smallest
Mahalanobis distance to a digit's mean, one covariance shared by all ten, shrunk by 0.001 of its mean variance; Lee
et al. 2018), or the pixels themselves (the error of rebuilding the image from the training digits' first 50
principal components). An image is declined if its score is past what --keep of the validation digits reach, or if
the shipped model's surest probability is under its threshold. Judged on validation digits and on fresh drawings of
the kinds seen in training only (compare_votes.py's), never the test split or the kinds kept unseen. Prints a
markdown table (docs/shipped_model.md quotes it):

    MNIST_ROOT=../shared/mnist python scripts/feature_distance.py
"""

import argparse
import functools
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import helpers as h  # noqa: E402


def hidden(member, layer, x):
    "The member's activations after its `layer`-th hidden ReLU (1 or 2), in eval mode, chunk by chunk."
    body = nn.Sequential(*list(member)[: 3 * layer])  # Flatten, then (Linear, ReLU, Dropout) per hidden layer
    return h._logits_of(body, x).double()


def mahalanobis(train, labels):
    "A score: the smallest squared Mahalanobis distance to a digit's mean, its covariance fitted on `train`."
    means = torch.stack([train[labels == digit].mean(0) for digit in range(10)])
    centred = train - means[labels]
    covariance = centred.T @ centred / len(train)
    shrink = 1e-3 * covariance.trace() / len(covariance)
    precision = torch.linalg.inv(covariance + shrink * torch.eye(len(covariance), dtype=covariance.dtype))
    means_squared = ((means @ precision) * means).sum(1)  # each mean's own term of the distance, once

    def score(features):
        projected = features @ precision
        squares = (projected * features).sum(1, keepdim=True) - 2 * projected @ means.T
        return (squares + means_squared).min(1).values

    return score


def pca_error(train, labels, components=50):
    "A score: the squared error of an image rebuilt from the training images' first principal components (any label)."
    mean = train.mean(0)
    basis = torch.linalg.svd(train - mean, full_matrices=False)[2][:components]
    return lambda x: ((x - mean) - (x - mean) @ basis.T @ basis).pow(2).sum(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="saved_models/mnist_mlp.pt")
    parser.add_argument("--dataset-path", default=h.SETTINGS.dataset_path)
    parser.add_argument("--keep", type=float, nargs="+", default=[0.9975, 0.995])
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    ensemble = h.load_network(args.model, "cpu").float()
    settings = h.SETTINGS.replace(dataset_path=args.dataset_path, image_size=28, use_gpu="cpu")
    train, valid, _ = h.load_data(settings, "cpu", preprocessing=ensemble.preprocessing)
    seen = [kind for kind in h._NON_DIGIT_STROKES if kind not in h._UNSEEN_NON_DIGITS]
    drawings = ensemble.preprocessing(h.non_digits(seen, 200, seed=2024))  # compare_votes.py's drawings
    confident = {name: h.predict_proba(ensemble, x).max(1) for name, x in (("valid", valid.x), ("drawn", drawings))}
    threshold = ensemble.threshold
    answered, declined = confident["valid"].values >= threshold, confident["drawn"].values < threshold
    right = confident["valid"].indices == valid.y
    print("| score | validation digits kept | declined alone | answered | accuracy on the answered | seen declined |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| the surest probability (shipped) | | | {answered.float().mean():.4f} | ", end="")
    print(f"{right[answered].float().mean():.4f} | {declined.float().mean():.4f} |")
    places = {"pixels, 50 principal components": (lambda x: x.double(), pca_error)}  # name: (features, score)
    for number, member in enumerate(ensemble.members):
        name = "the base" if number == 0 else f"member {number}"
        for layer in (1, 2):
            places[f"{name}, hidden layer {layer}"] = (functools.partial(hidden, member, layer), mahalanobis)
    for name, (place, fitted) in places.items():
        score = fitted(place(train.x), train.y)
        on_valid, on_drawn = score(place(valid.x)), score(place(drawings))
        for keep in args.keep:
            limit = torch.quantile(on_valid, keep)
            kept = answered & (on_valid <= limit)
            alone, either = (on_drawn > limit).float().mean(), (declined | (on_drawn > limit)).float().mean()
            figures = (kept.float().mean(), right[kept].float().mean(), either)
            print(f"| {name} | {keep:.2%} | {alone:.4f} | " + " | ".join(f"{value:.4f}" for value in figures) + " |")


if __name__ == "__main__":
    main()
