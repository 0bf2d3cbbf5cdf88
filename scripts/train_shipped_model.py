"""Train the shipped model: the best fully connected MNIST network we can train on a 2-core CPU in about 15 minutes.

Recipe: a 784-2048-2048-10 MLP (helpers.init_network: Linear → ReLU → Dropout 0.1), SGD with Nesterov momentum
under a one-cycle learning-rate schedule (peak 0.1, 110 epochs, batch 256), bfloat16 matrix products with float32
weights, and every training batch freshly distorted (random affine + elastic, after Simard et al. 2003). If --minutes
run out first (a busy CPU), training stops after that epoch and keeps its best-validation epoch. Hyperparameters were
chosen on a validation split only (main()'s 50,000 / 10,000 split of the training images, seed 0; runs with
--skip-test); the 10,000-image test set is evaluated once, at the end, for this model only. The weights go to --out
(weights_only-safe .pt) with a JSON card beside it.

Reproduce (from the repository root):
    MNIST_ROOT=../shared/mnist .venv/bin/python scripts/train_shipped_model.py
"""
import argparse
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

# Must be set before torch loads OpenMP: with the default busy-waiting, two threads on a 2-core CPU that someone else
# is also using ran up to 15x slower than one thread; passive waiting keeps them near one thread's speed at worst.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
import helpers as h  # noqa: E402  (needs the repository root on sys.path first)

IMAGE_SIDE = 28
SHIPPED_PATH = h.SETTINGS.model_path
VALIDATION_RUN_PATH = f"{h.SETTINGS.runs_dir}/validation_run.pt"


def gaussian_kernel_1d(sigma):
    "A normalised 1-D Gaussian kernel reaching 2 sigma each side, shaped [1, 1, 1, k] for conv2d."
    radius = max(1, math.ceil(2 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    return (kernel / kernel.sum()).view(1, 1, 1, -1)


class RandomDistortion:
    "Randomly rotate, scale, shear, shift and elastically warp each flattened, normalised image of a batch."

    def __init__(self, background, rotation_deg=12.0, scale=0.1, shear_deg=8.0, shift_px=2.0,
                 elastic_alpha=20.0, elastic_sigma=4.0, seed=0):
        self.background = background   # the normalised value of a blank pixel: what we pad with
        self.rotation_deg, self.scale, self.shear_deg, self.shift_px = rotation_deg, scale, shear_deg, shift_px
        self.elastic_alpha, self.elastic_sigma = elastic_alpha, elastic_sigma
        self.blur = gaussian_kernel_1d(elastic_sigma) if elastic_alpha > 0 else None
        self.generator = torch.Generator().manual_seed(seed)

    def params(self):
        "The distortion settings as plain data, for the model card."
        return {"rotation_deg": self.rotation_deg, "scale": self.scale, "shear_deg": self.shear_deg,
                "shift_px": self.shift_px, "elastic_alpha": self.elastic_alpha, "elastic_sigma": self.elastic_sigma}

    def uniform(self, count, limit):
        "`count` samples from U(-limit, limit)."
        return (torch.rand(count, generator=self.generator) * 2 - 1) * limit

    def affine_matrices(self, count):
        "[count, 2, 3] random affine maps in affine_grid's normalised coordinates."
        angle = self.uniform(count, math.radians(self.rotation_deg))
        shear = self.uniform(count, math.radians(self.shear_deg))
        scale_x, scale_y = 1 + self.uniform(count, self.scale), 1 + self.uniform(count, self.scale)
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        max_shift = self.shift_px * 2 / IMAGE_SIDE   # the image spans 2 units in affine_grid's coordinates
        shift_x, shift_y = self.uniform(count, max_shift), self.uniform(count, max_shift)
        # rotation @ shear @ scale, multiplied out.
        return torch.stack([
            torch.stack([cos * scale_x, (cos * tan - sin) * scale_y, shift_x], 1),
            torch.stack([sin * scale_x, (sin * tan + cos) * scale_y, shift_y], 1),
        ], 1)

    def elastic_offsets(self, count):
        "[count, side, side, 2] smooth random displacements (Simard's elastic distortion) in normalised units."
        noise = (torch.rand(count * 2, 1, IMAGE_SIDE, IMAGE_SIDE, generator=self.generator) * 2 - 1)
        radius = self.blur.shape[-1] // 2
        smooth = F.conv2d(F.pad(noise, (radius, radius, 0, 0), mode="reflect"), self.blur)
        smooth = F.conv2d(F.pad(smooth, (0, 0, radius, radius), mode="reflect"), self.blur.transpose(-1, -2))
        pixels = smooth.view(count, 2, IMAGE_SIDE, IMAGE_SIDE) * self.elastic_alpha
        return pixels.permute(0, 2, 3, 1) * (2 / IMAGE_SIDE)

    def __call__(self, batch):
        "Distort a [B, 784] normalised batch; returns a new [B, 784] tensor."
        count = len(batch)
        # grid_sample pads with 0, so shift the background to 0 first and back afterwards.
        images = (batch - self.background).view(count, 1, IMAGE_SIDE, IMAGE_SIDE)
        grid = F.affine_grid(self.affine_matrices(count).to(batch.device), list(images.shape), align_corners=False)
        if self.blur is not None:
            grid = grid + self.elastic_offsets(count).to(batch.device)
        warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return warped.view(count, -1) + self.background


def machine_description():
    "CPU model, its vector-instruction flags that matter for speed, and core count, from /proc/cpuinfo where it exists."
    cpu_model, vector_flags = None, []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu_model is None:
                cpu_model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not vector_flags:
                vector_flags = sorted(flag for flag in line.split(":", 1)[1].split()
                                      if flag.startswith(("avx", "amx", "fma")))
    except OSError:
        pass
    return {"cpu": cpu_model or platform.processor() or platform.machine(), "cpu_vector_flags": vector_flags,
            "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform()}


def parse_args(argv=None):
    "The command line: data, output, seed and every hyperparameter of the recipe."
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=h.SETTINGS.dataset_path,
                        help="MNIST folder (default: $MNIST_ROOT or %(default)s)")
    parser.add_argument("--out", default=None,
                        help=f"model file (default: {SHIPPED_PATH}, or {VALIDATION_RUN_PATH} with --skip-test)")
    parser.add_argument("--seed", type=int, default=0)
    # main()'s split, so main(is_training=False) reports validation figures on images this model never trained on
    parser.add_argument("--train-size", type=int, default=h.SETTINGS.train_size)
    parser.add_argument("--val-size", type=int, default=h.SETTINGS.val_size)
    parser.add_argument("--test-size", type=int, default=h.SETTINGS.test_size)
    parser.add_argument("--hidden", type=int, nargs="+", default=[2048, 2048], help="hidden layer widths")
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--optimizer", default="sgd", choices=sorted(h.OPTIMIZERS))
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--precision", default="bfloat16", choices=["float32", "bfloat16"],
                        help="bfloat16: mixed-precision matrix products (about 2x faster on CPUs with AVX512-BF16)")
    parser.add_argument("--epochs", type=int, default=110, help="sized to fit ~15 minutes on a 2-core CPU")
    parser.add_argument("--rotation", type=float, default=12.0, help="max rotation, degrees")
    parser.add_argument("--scale", type=float, default=0.1, help="max relative scale change per axis")
    parser.add_argument("--shear", type=float, default=8.0, help="max shear, degrees")
    parser.add_argument("--shift", type=float, default=2.0, help="max shift, pixels")
    parser.add_argument("--elastic-alpha", type=float, default=20.0, help="elastic strength, pixels (0: none)")
    parser.add_argument("--elastic-sigma", type=float, default=4.0, help="elastic smoothness, pixels")
    parser.add_argument("--minutes", type=float, default=15.0,
                        help="training time limit: once past it (a busy CPU), stop after that epoch and keep the best "
                             "epoch so far")
    parser.add_argument("--skip-test", action="store_true",
                        help="leave the test split alone (for runs that choose hyperparameters on validation)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.out is None:   # a validation-only run must not replace the shipped model (its card would lack test figures)
        args.out = VALIDATION_RUN_PATH if args.skip_test else SHIPPED_PATH
    return args


def recipe_settings(args):
    "The notebook's Settings for this recipe: main()'s split and test size, the network and training from `args`."
    loss = ("cross_entropy" if args.label_smoothing == 0
            else torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing))
    return h.SETTINGS.replace(
        dataset_path=args.data, train_size=args.train_size, val_size=args.val_size, test_size=args.test_size,
        no_of_layers=len(args.hidden),
        neurons_per_layer=[*args.hidden, 10], loss_func=loss, optimizer=args.optimizer, batch_size=args.batch_size,
        learning_rate=args.lr, use_gpu="cpu", dropout=args.dropout, is_training=True, training_epochs=args.epochs,
        schedule="onecycle", weight_decay=args.weight_decay, precision=args.precision, seed=args.seed,
        image_size=IMAGE_SIDE, model_path=args.out)   # the distortions work on MNIST's own 28x28


class Deadline:
    "train's per-epoch hook: True (stop) once `seconds` have passed; remembers whether it struck."

    def __init__(self, seconds):
        self.at, self.struck = time.perf_counter() + seconds, False

    def __call__(self, *epoch_state):
        self.struck = time.perf_counter() > self.at
        return self.struck


def training_record(args, distort, history, seconds, deadline):
    "What the card's `training` part adds to the notebook's: augmentation, the time limit and whether it struck."
    completed = len(history["loss"]["train"])
    return {"label_smoothing": args.label_smoothing, "epochs_completed": completed,
            "time_limit_minutes": args.minutes, "stopped_at_time_limit": deadline.struck,
            "weights": "the epoch with the best validation accuracy",
            "augmentation": {"kind": "random affine + elastic, fresh per batch", **distort.params()},
            "seconds": round(seconds, 1)}


def main(argv=None):
    "Train, test once, save; returns the saved path."
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = recipe_settings(args)
    loaders = h.load_data(settings, "cpu")
    background = loaders[0].preprocessing(torch.zeros(1, IMAGE_SIDE, IMAGE_SIDE))[0, 0].item()   # a blank pixel
    distort = RandomDistortion(background, args.rotation, args.scale, args.shear, args.shift,
                               args.elastic_alpha, args.elastic_sigma, seed=args.seed)
    deadline = Deadline(args.minutes * 60)
    print(f"training {settings.neurons_per_layer} for {args.epochs} epochs on {len(loaders[0].y)} images", flush=True)
    net, history, seconds = h.train_new_network(settings, loaders, progress=True, augment=distort,
                                                on_epoch_end=deadline)
    for epoch, (train_acc, val_acc) in enumerate(zip(*history["accuracy"].values()), start=1):
        print(f"epoch {epoch:3d}: train acc {train_acc:.4f}  val acc {val_acc:.4f}")
    # The test split is looked at here once, for this final model only; with --skip-test (while choosing
    # hyperparameters) not at all.
    splits = h.SPLITS[:2] if args.skip_test else h.SPLITS
    results = {split: h.score(net, loader.x, loader.y) for split, loader in zip(splits, loaders)}
    print(f"trained in {seconds:.0f} s;\n{h.summary(results).round(4).to_string()}", flush=True)
    card = h.model_card(settings, results, history, seconds, machine=machine_description(),
                        command=shlex.join(["python", "scripts/train_shipped_model.py",
                                                           *(sys.argv[1:] if argv is None else argv)]))
    card["training"].update(training_record(args, distort, history, seconds, deadline))
    card["versions"]["torchvision"] = torchvision.__version__
    path = h.save_network(net, args.out, metadata=card)
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB) and {path.with_suffix('.json')}")
    return path


if __name__ == "__main__":
    main()
