"""Train the shipped model that knows what is not a digit: an MLPEnsemble of fully connected networks that vote.

Members: the 784-2048-2048-10 network scripts/train_shipped_model.py trained (--base), and --members new networks
(784-1024-1024-10 by default), each trained as that script trains (SGD with Nesterov momentum, one-cycle, every
batch freshly distorted; in float32, which a CPU without bfloat16 arithmetic runs eight times faster) and, besides,
with outlier exposure (Hendrycks et al. 2019): every batch of digits comes with half as many drawings that are no
digit (helpers.non_digits: letters, symbols, shapes, scribbles of the kinds not in helpers._UNSEEN_NON_DIGITS),
whose loss is the cross-entropy to equal probabilities for all ten digits. Pen widths vary too: a share of each batch is
thickened or thinned (another hand's pen).
Then, on the validation split only (main()'s 50,000 / 10,000 split, seed 0): the temperature that minimises the
validation loss of the averaged probabilities (Guo et al. 2017), and the threshold under which the ensemble answers
"not a digit?": the surest probability that 99.5% of the validation digits reach. The test split is looked at once,
at the end. Saved, weights in float16, to --model-path with its card; the figures on the card are the saved file's.
The shipped model's run (its card's `command`), with the base as scripts/train_shipped_model.py left it (the model
shipped before this one) and the result copied into saved_models/ afterwards:

    git show 11180e3:saved_models/mnist_mlp.pt > runs/base_2048.pt
    MNIST_ROOT=../shared/mnist python scripts/train_ensemble.py --base runs/base_2048.pt

On a GPU machine, new members can be trained apart (--device cuda --members-dir DIR: each saved there as it is done,
one file per member, small enough to come back from a lent machine) and voted with the base here (--add-members).
"""

import argparse
import math
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as scripts/train_shipped_model.py says why

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "scripts")]
from train_shipped_model import RandomDistortion, machine_description  # noqa: E402

import helpers as h  # noqa: E402

OUTLIER_WEIGHT = 0.5  # Hendrycks et al.'s lambda for the outliers' loss
ANSWERED_ON_VALIDATION = 0.995  # the threshold lets this share of the validation digits through
TEMPERATURES = torch.logspace(math.log10(0.2), math.log10(5), 325).tolist()  # 0.2 to 5, in steps of 1%


TRAINING_OPTIONS = {"members", "widths", "epochs", "drawings_per_kind", "minutes", "precision", "device", "first_seed"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--base", default=h.SETTINGS.model_path, help="the first member (an MLP file, or an ensemble file's first)"
    )
    parser.add_argument("--members", type=int, default=4, help="new members trained with outlier exposure")
    parser.add_argument("--widths", type=int, nargs="+", default=[1024, 1024], help="each new member's hidden widths")
    parser.add_argument("--epochs", type=int, default=45)
    parser.add_argument("--drawings-per-kind", type=int, default=1500, help="the outlier pool, per trained kind")
    parser.add_argument("--minutes", type=float, default=60.0, help="stop a member past this share of the whole")
    parser.add_argument("--model-path", default="runs/ensemble.pt", help="never saved_models/ itself: copy it there")
    parser.add_argument("--dataset-path", default=h.SETTINGS.dataset_path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--precision",
        default="float32",
        help="bfloat16 only on a GPU or a CPU that has it natively (AVX-512 BF16, AMX)",
    )
    parser.add_argument("--device", default="cpu", help="where the new members train: cpu, cuda or cuda:n")
    parser.add_argument("--first-seed", type=int, default=100, help="new member n is trained with seed first-seed + n")
    parser.add_argument("--members-dir", help="save each new member there as it is done (member_<seed>.pt), then stop")
    parser.add_argument(
        "--add-members", nargs="+", help="model files (--members-dir's, or an ensemble): their members vote, untrained"
    )
    parser.add_argument("--skip-test", action="store_true", help="figures of train and valid only: a candidate's")
    return refuse_conflicts(parser, parser.parse_args(argv))


def refuse_conflicts(parser, args):
    "args, unless they mix the modes, give an option their mode ignores, ask for a missing GPU or would overwrite."
    given = {name for name, value in vars(args).items() if value != parser.get_default(name)}
    if args.members_dir and args.add_members:
        parser.error("--members-dir trains members and --add-members reads them: give one of the two")
    if args.add_members and given & TRAINING_OPTIONS:
        parser.error(f"--add-members trains nothing: {sorted(given & TRAINING_OPTIONS)} would be ignored")
    if args.members_dir and given & {"model_path", "skip_test"}:
        parser.error("--members-dir saves the members alone: --model-path and --skip-test would be ignored")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here")
    seeds = range(args.first_seed, args.first_seed + args.members)
    outputs = [Path(args.members_dir) / f"member_{seed}.pt" for seed in seeds] if args.members_dir else []
    taken = [str(path) for path in outputs or [Path(args.model_path)] if path.exists()]
    if taken:
        parser.error(f"{', '.join(taken)} exists: move it away, or choose another --model-path or --first-seed")
    return args


def members_of(path):
    "[(network, its record)] of a model file: an MLP file's one network, or each member of an ensemble file."
    net = h.load_network(path, "cpu")
    if not isinstance(net, h.MLPEnsemble):
        return [(net, net.metadata.get("training", {}) | {"file": str(path)})]
    records = net.metadata.get("members") or [net.metadata.get("member", {})] * len(net.members)
    for member in net.members:
        member.preprocessing = net.preprocessing
    return [(member, {"file": str(path)} | record) for member, record in zip(net.members, records, strict=True)]


class PenAndOutliers:
    "train's augment: the digits distorted, some thickened or thinned, and half as many non-digits appended."

    def __init__(self, distort, outliers, background, seed):
        self.distort, self.outliers, self.background = distort, outliers, background
        self.generator = torch.Generator().manual_seed(seed)

    def pen(self, batch):
        "A third of the images drawn with a thicker pen, a sixth with a thinner one (3x3 max or min filter)."
        images = (batch - self.background).view(-1, 1, 28, 28)
        which = torch.rand(len(batch), generator=self.generator).to(batch.device)
        thick, thin = F.max_pool2d(images, 3, 1, 1), -F.max_pool2d(-images, 3, 1, 1)
        images = torch.where((which < 1 / 3).view(-1, 1, 1, 1), thick, images)
        images = torch.where((which > 5 / 6).view(-1, 1, 1, 1), thin, images)
        return images.view(len(batch), -1) + self.background

    def __call__(self, batch):
        rows = torch.randint(len(self.outliers), (len(batch) // 2,), generator=self.generator).to(self.outliers.device)
        return torch.cat([self.pen(self.distort(batch)), self.pen(self.distort(self.outliers[rows]))])


def outlier_exposure_loss(logits, labels):
    "Cross-entropy on the labelled digits, plus OUTLIER_WEIGHT x cross-entropy to uniform on the appended drawings."
    loss = F.cross_entropy(logits[: len(labels)], labels)
    outliers = logits[len(labels) :]
    if len(outliers):
        loss = loss + OUTLIER_WEIGHT * -F.log_softmax(outliers, dim=1).mean()
    return loss


def train_member(args, seed, loaders, outliers, deadline):
    "One new member, trained with outlier exposure on args.device; (net on the CPU, history, seconds)."
    device = h.resolve_device(args.device)
    train, valid = loaders[0], loaders[1]
    background = train.preprocessing(torch.zeros(1, 28, 28))[0, 0].item()
    augment = PenAndOutliers(RandomDistortion(background, seed=seed), outliers.to(device), background, seed)
    h.seed_everything(seed)
    net = h.init_network(len(args.widths), 784, [*args.widths, 10], 0.1, device=device)
    started = time.perf_counter()
    options = dict(batch_size=256, seed=seed, schedule="onecycle", precision=args.precision, augment=augment)
    net, losses, _ = h.train(
        net,
        train.x.to(device),
        train.y.to(device),
        valid.x.to(device),
        valid.y.to(device),
        0.1,
        args.epochs,
        outlier_exposure_loss,
        "sgd",
        on_epoch_end=deadline,
        **options,
    )
    net.cpu().preprocessing = train.preprocessing
    return net, losses, time.perf_counter() - started


def fitted_temperature(ensemble, x, y):
    "The temperature (0.2 to 5, in steps of 1%) that minimises the averaged probabilities' loss on (x, y)."
    logits = [h._logits_of(member, x) for member in ensemble.members]
    losses = {}
    for temperature in TEMPERATURES:
        averaged = torch.stack([F.softmax(member / temperature, 1) for member in logits]).mean(0)
        losses[round(temperature, 3)] = F.nll_loss(averaged.clamp_min(1e-30).log(), y).item()
    return min(losses, key=losses.get)


class Deadline:
    "train's hook: True (stop) once `seconds` have passed."

    def __init__(self, seconds):
        self.at = time.perf_counter() + seconds

    def __call__(self, *_):
        return time.perf_counter() > self.at


def figures(net, loaders, splits):
    "{split: score()'s headline figures and, with the threshold, the share answered and the accuracy on those}."
    results = {}
    for split, loader in zip(splits, loaders):
        scores = h.score(net, loader.x, loader.y)
        probabilities = h.predict_proba(net, loader.x)
        confident, predicted = probabilities.max(1)
        answered = confident >= net.threshold
        right = predicted == loader.y
        ece, _ = h.calibration(probabilities, loader.y)
        results[split] = {key: scores[key] for key in ("loss", "accuracy", "f1_macro")} | {
            "answered": answered.float().mean().item(),
            "accuracy on the answered": right[answered].float().mean().item(),
            "ece": ece,
        }
    return results


def new_members(args, loaders, outliers, argv=None):
    "The --members new networks, each trained with outlier exposure; (nets, a record of each for the card)."
    nets, records = [], []
    device = h.resolve_device(args.device)
    run = {"widths": args.widths, "epochs asked": args.epochs, "precision": args.precision}  # each member's alike
    run["device"] = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    run |= {"drawings per kind": args.drawings_per_kind, "machine": machine_description(), "command": command(argv)}
    run["torch"] = torch.__version__
    for seed in range(args.first_seed, args.first_seed + args.members):
        deadline = Deadline(args.minutes * 60 / args.members)
        net, losses, seconds = train_member(args, seed, loaders, outliers, deadline)
        valid = h.score(net, loaders[1].x, loaders[1].y)["accuracy"]
        print(f"member of seed {seed}: {len(losses['train'])} epochs in {seconds:.0f} s, valid {valid:.4f}", flush=True)
        record = {"epochs": len(losses["train"]), "seconds": round(seconds, 1), "valid accuracy": valid, "seed": seed}
        record |= run
        if args.members_dir:  # one member per file, as a one-member ensemble: float16, so a 2048-wide one is 12 MB
            path = Path(args.members_dir) / f"member_{seed}.pt"
            print(f"saved {h.save_network(h.MLPEnsemble([net]), path, metadata={'member': record})}", flush=True)
        nets.append(net)
        records.append(record)
    return nets, records


def saved_members(files, base):
    "Every member of the --add-members files but the base itself (as saved in float16, too); (nets, records)."
    pairs = []
    for file in files:
        for net, record in members_of(file):
            if net.preprocessing != base.preprocessing:
                raise ValueError(f"{file}: its members normalise their inputs otherwise than the base: cannot vote")
            if record.get("epochs", math.inf) < record.get("epochs asked", 0):  # stopped by --minutes
                print(f"warning: {file} stopped after {record['epochs']} of {record['epochs asked']} epochs")
            if not same_weights(net, base):
                pairs.append((net, record))
    return [net for net, _ in pairs], [record for _, record in pairs]


def same_weights(net, other):
    "Whether two networks hold the same weights, once both are rounded to float16 (as an ensemble file stores them)."
    mine, theirs = net.state_dict(), other.state_dict()
    same_shapes = [(k, v.shape) for k, v in mine.items()] == [(k, v.shape) for k, v in theirs.items()]
    return same_shapes and all(torch.equal(mine[key].half(), theirs[key].half()) for key in mine)


def calibrated(members, valid):
    "The members as one MLPEnsemble, its temperature and threshold chosen on the validation loader `valid`."
    ensemble = h.MLPEnsemble(members)
    ensemble.temperature = fitted_temperature(ensemble, valid.x, valid.y)
    confident = h.predict_proba(ensemble, valid.x).max(1).values
    ensemble.threshold = torch.quantile(confident, 1 - ANSWERED_ON_VALIDATION).item()
    return ensemble


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    base, base_record = members_of(args.base)[0]  # an ensemble file's first member: its base
    settings = h.SETTINGS.replace(dataset_path=args.dataset_path, image_size=28, use_gpu="cpu")
    loaders = h.load_data(settings, "cpu", preprocessing=base.preprocessing)
    seen = [kind for kind in h._NON_DIGIT_STROKES if kind not in h._UNSEEN_NON_DIGITS]
    if args.add_members:
        members, records = saved_members(args.add_members, base)
    else:
        outliers = base.preprocessing(h.non_digits(seen, args.drawings_per_kind, seed=1))
        print(f"{len(outliers)} drawings of {len(seen)} kinds for outlier exposure", flush=True)
        members, records = new_members(args, loaders, outliers, argv)
        if args.members_dir:
            return Path(args.members_dir)
    ensemble = calibrated([base, *members], loaders[1])
    seconds = time.perf_counter() - started
    card = {
        "decision": (
            "not a digit where the surest of the averaged, temperature-scaled probabilities is under the threshold: "
            f"the surest probability that {ANSWERED_ON_VALIDATION:.1%} of the validation digits reach"
        ),
        "members": [{"recipe": "scripts/train_shipped_model.py"} | base_record]
        + [{"recipe": "this script"} | record for record in records],
        "outlier exposure": {"kinds": seen, "unseen kinds": list(h._UNSEEN_NON_DIGITS), "weight": OUTLIER_WEIGHT},
        "data": {key: getattr(settings, key) for key in ("train_size", "val_size", "test_size", "seed", "image_size")},
        "seconds": round(seconds, 1),
        "the seconds cover": "voting members trained before (each record has its own seconds)"
        if args.add_members
        else "training the new members, then voting",
        "machine": machine_description(),
        "command": command(argv),
        "versions": {"torch": torch.__version__},
    }
    if args.skip_test:
        card["test split"] = "not looked at"
    return save_with_figures(ensemble, args.model_path, card, loaders)


def command(argv):
    "This run's command line, as a card records it."
    return shlex.join(["python", "scripts/train_ensemble.py", *(sys.argv[1:] if argv is None else argv)])


def save_with_figures(ensemble, path, card, loaders):
    "Save the ensemble, then save it again with the figures of the file as saved (weights in float16) on its card."
    path = h.save_network(ensemble, path, metadata=card)
    saved = h.load_network(path, "cpu")
    splits = ("train", "valid") if card.get("test split") == "not looked at" else ("train", "valid", "test")
    card["results"] = figures(saved, loaders, splits)
    card["training"] = {"seconds": card["seconds"], "engine used": "eager"}
    path = h.save_network(saved, path, metadata=card)
    print(f"temperature {saved.temperature}, threshold {saved.threshold:.4f}, {card['seconds']:.0f} s in all")
    for split, scores in card["results"].items():
        print(split, {key: round(value, 4) for key, value in scores.items()})
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return path


if __name__ == "__main__":
    main()
