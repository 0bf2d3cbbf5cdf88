"""Other ways for the shipped ensemble's members to vote and to decline, judged on validation digits and on fresh
drawings of the kinds seen in training only (never the test split, never the kinds kept unseen):

1. the base member's weight in the vote (equal weights: 1 / members), with and without shifted copies of each image
   (test-time augmentation: the image and its four one-pixel shifts, averaged);
2. other scores for "not a digit?" than the surest averaged probability;
3. the share of validation digits let through by the threshold, against the accuracy on them.

Each threshold lets through --answered of the validation digits unless said; the temperature is refitted for each
vote. Prints markdown tables (docs/shipped_model.md quotes them):

    MNIST_ROOT=../shared/mnist python scripts/compare_votes.py
"""

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]
from train_ensemble import TEMPERATURES  # noqa: E402

import helpers as h  # noqa: E402


def shifted(x, background):
    "x [N, 784] and its four copies moved by one pixel (down, up, right, left), the gap filled with background."
    padded = F.pad(x.view(-1, 28, 28), (1, 1, 1, 1), value=background)
    moves = ((0, 1), (2, 1), (1, 0), (1, 2))  # where each copy's window starts in the padded image
    return [x] + [padded[:, top : top + 28, left : left + 28].reshape(len(x), -1) for top, left in moves]


def member_logits(ensemble, views):
    "[members, views, N, 10]: each member's logits for each view of the images."
    return torch.stack([torch.stack([h._logits_of(member, view) for view in views]) for member in ensemble.members])


def vote(logits, weights, temperature):
    "The weighted average over members (and views) of the temperature-scaled probabilities, [N, 10]."
    return (F.softmax(logits / temperature, -1).mean(1) * weights.view(-1, 1, 1)).sum(0)


def fitted_temperature(logits, weights, y):
    "The temperature that minimises the vote's validation loss, on train_ensemble.py's grid (0.2 to 5, steps of 1%)."
    return min(TEMPERATURES, key=lambda t: F.nll_loss(vote(logits, weights, t).clamp_min(1e-30).log(), y).item())


def row(label, valid_scores, right, drawing_scores, answered):
    "A table row: the threshold letting `answered` of the validation digits through, and what it does."
    threshold = torch.quantile(valid_scores, 1 - answered)
    passed = valid_scores >= threshold
    figures = (right.float().mean(), passed.float().mean(), right[passed].float().mean())
    declined = (drawing_scores < threshold).float().mean()
    return f"| {label} | " + " | ".join(f"{value:.4f}" for value in (*figures, declined)) + " |"


def vote_rows(ensemble, valid, drawings, answered):
    "The table's rows for each weight of the base's vote, with and without shifted copies."
    background = ensemble.preprocessing(torch.zeros(1, 28, 28))[0, 0].item()
    count, rows = len(ensemble.members), []
    for shifts in (False, True):
        views = (lambda x: shifted(x, background)) if shifts else (lambda x: [x])
        logits, drawing_logits = member_logits(ensemble, views(valid.x)), member_logits(ensemble, views(drawings))
        for base_weight in (1 / count, 0.3, 0.4, 0.5, 0.6):
            weights = torch.tensor([base_weight] + [(1 - base_weight) / (count - 1)] * (count - 1))
            temperature = fitted_temperature(logits, weights, valid.y)
            probabilities, drawn = vote(logits, weights, temperature), vote(drawing_logits, weights, temperature)
            confident, predicted = probabilities.max(1)
            label = (
                f"base weight {base_weight:.2f}{', shifted copies' if shifts else ''}, temperature {temperature:.2f}"
            )
            rows.append(row(label, confident, predicted == valid.y, drawn.max(1).values, answered))
    return rows


def scores(member_logits, temperature):
    "({score's name: one score per image, lower meaning surer no digit}, the averaged vote's digits)."
    each = F.softmax(member_logits / temperature, -1)
    averaged = each.mean(0)
    return {
        "surest averaged probability (shipped)": averaged.max(1).values,
        "negative entropy of the average": (averaged * averaged.clamp_min(1e-30).log()).sum(1),
        "surest probability of the least sure member": each.max(2).values.min(0).values,
        "energy (log-sum-exp of the mean logits)": torch.logsumexp(member_logits.mean(0) / temperature, 1),
        "surest averaged probability less the members' spread": averaged.max(1).values - each.std(0).sum(1),
    }, averaged.argmax(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="saved_models/mnist_mlp.pt")
    parser.add_argument("--dataset-path", default=h.SETTINGS.dataset_path)
    parser.add_argument("--drawings-per-kind", type=int, default=200)
    parser.add_argument("--answered", type=float, default=0.995, help="the share of validation digits answered")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    ensemble = h.load_network(args.model, "cpu").float()
    settings = h.SETTINGS.replace(dataset_path=args.dataset_path, image_size=28, use_gpu="cpu")
    valid = h.load_data(settings, "cpu", preprocessing=ensemble.preprocessing)[1]
    seen = [kind for kind in h._NON_DIGIT_STROKES if kind not in h._UNSEEN_NON_DIGITS]
    drawings = ensemble.preprocessing(h.non_digits(seen, args.drawings_per_kind, seed=2024))  # not training's seed 1
    header = "| accuracy, every digit answered | answered | accuracy on the answered | seen kinds declined |"
    print(f"{len(valid.y)} validation digits, {len(drawings)} fresh drawings of {len(seen)} seen kinds\n")
    print(
        f"| vote {header}\n| --- | ---: | ---: | ---: | ---: |",
        *vote_rows(ensemble, valid, drawings, args.answered),
        sep="\n",
    )

    logits, drawing_logits = (member_logits(ensemble, [x])[:, 0] for x in (valid.x, drawings))
    (valid_scores, predicted), (drawing_scores, _) = (scores(x, ensemble.temperature) for x in (logits, drawing_logits))
    print(f"\n| score {header}\n| --- | ---: | ---: | ---: | ---: |")
    for name in valid_scores:
        print(row(name, valid_scores[name], predicted == valid.y, drawing_scores[name], args.answered))

    print(f"\n| validation digits let through {header}\n| --- | ---: | ---: | ---: | ---: |")
    shipped, drawn = valid_scores["surest averaged probability (shipped)"], next(iter(drawing_scores.values()))
    for answered in (0.995, 0.993, 0.99, 0.985, 0.98):
        print(row(f"{answered:.1%}", shipped, predicted == valid.y, drawn, answered))


if __name__ == "__main__":
    main()
