"""Train the shipped model: the best fully connected MNIST network we can train on a 2-core CPU in about 15 minutes.

Recipe: a 784-2048-2048-10 MLP (helpers.init_network: Linear → ReLU → Dropout 0.1), SGD with Nesterov momentum
under a one-cycle learning-rate schedule (peak 0.1, 110 epochs, batch 256), bfloat16 matrix products with float32
weights, and every training batch freshly distorted (random affine + elastic, after Simard et al. 2003). If --minutes
run out first (a busy CPU), training stops after that epoch and keeps its best-validation epoch. Hyperparameters were
chosen on a validation split only (main()'s 50,000 / 10,000 split of the training images, seed 0; runs with
--skip-test); the 10,000-image test set is evaluated once, at the end, for this model only. The weights go to
--model-path (weights_only-safe .pt) with a JSON card beside it. The command line is the notebook's Settings (one
option per field, as `python helpers.py train` has them, the defaults this recipe's), plus the augmentation and the
time limit.

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

IMAGE_SIDE = 28  # the distortions work on MNIST's own 28x28
SHIPPED_PATH = h.SETTINGS.model_path
VALIDATION_RUN_PATH = f"{h.SETTINGS.runs_dir}/validation_run.pt"
RECIPE = h.SETTINGS.replace(  # main()'s split (seed 0), so main(is_training=False) validates on unseen images
    no_of_layers=2,
    neurons_per_layer=[2048, 2048, 10],
    dropout=0.1,
    optimizer="sgd",
    learning_rate=0.1,
    batch_size=256,
    precision="bfloat16",
    training_epochs=110,
    schedule="onecycle",
    weight_decay=0.0,
    use_gpu="cpu",
    image_size=IMAGE_SIDE,
    is_training=True,
)


def gaussian_kernel_1d(sigma):
    "A normalised 1-D Gaussian kernel reaching 2 sigma each side, shaped [1, 1, 1, k] for conv2d."
    radius = max(1, math.ceil(2 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    return (kernel / kernel.sum()).view(1, 1, 1, -1)


class RandomDistortion:
    "Randomly rotate, scale, shear, shift and elastically warp each flattened, normalised image of a batch."

    def __init__(
        self,
        background,
        rotation_deg=12.0,
        scale=0.1,
        shear_deg=8.0,
        shift_px=2.0,
        elastic_alpha=20.0,
        elastic_sigma=4.0,
        seed=0,
    ):
        self.background = background  # the normalised value of a blank pixel: what we pad with
        self.rotation_deg, self.scale, self.shear_deg, self.shift_px = rotation_deg, scale, shear_deg, shift_px
        self.elastic_alpha, self.elastic_sigma = elastic_alpha, elastic_sigma
        self.blur = gaussian_kernel_1d(elastic_sigma) if elastic_alpha > 0 else None
        self.generator = torch.Generator().manual_seed(seed)

    def params(self):
        "The distortion settings as plain data, for the model card."
        return {
            "rotation_deg": self.rotation_deg,
            "scale": self.scale,
            "shear_deg": self.shear_deg,
            "shift_px": self.shift_px,
            "elastic_alpha": self.elastic_alpha,
            "elastic_sigma": self.elastic_sigma,
        }

    def uniform(self, count, limit):
        "`count` samples from U(-limit, limit)."
        return (torch.rand(count, generator=self.generator) * 2 - 1) * limit

    def affine_matrices(self, count):
        "[count, 2, 3] random affine maps in affine_grid's normalised coordinates."
        angle = self.uniform(count, math.radians(self.rotation_deg))
        shear = self.uniform(count, math.radians(self.shear_deg))
        scale_x, scale_y = 1 + self.uniform(count, self.scale), 1 + self.uniform(count, self.scale)
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        max_shift = self.shift_px * 2 / IMAGE_SIDE  # the image spans 2 units in affine_grid's coordinates
        shift_x, shift_y = self.uniform(count, max_shift), self.uniform(count, max_shift)
        # rotation @ shear @ scale, multiplied out.
        return torch.stack(
            [
                torch.stack([cos * scale_x, (cos * tan - sin) * scale_y, shift_x], 1),
                torch.stack([sin * scale_x, (sin * tan + cos) * scale_y, shift_y], 1),
            ],
            1,
        )

    def elastic_offsets(self, count):
        "[count, side, side, 2] smooth random displacements (Simard's elastic distortion) in normalised units."
        noise = torch.rand(count * 2, 1, IMAGE_SIDE, IMAGE_SIDE, generator=self.generator) * 2 - 1
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
                vector_flags = sorted(
                    flag for flag in line.split(":", 1)[1].split() if flag.startswith(("avx", "amx", "fma"))
                )
    except OSError:
        pass
    return {
        "cpu": cpu_model or platform.processor() or platform.machine(),
        "cpu_vector_flags": vector_flags,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def parse_args(argv=None):
    "The command line: every field of the notebook's Settings (this recipe's defaults), augmentation, time limit."
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    h.settings_options(parser, RECIPE)
    parser.set_defaults(model_path=None)  # below: the shipped model's path, or a validation run's with --skip-test
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--rotation", type=float, default=12.0, help="max rotation, degrees")
    parser.add_argument("--scale", type=float, default=0.1, help="max relative scale change per axis")
    parser.add_argument("--shear", type=float, default=8.0, help="max shear, degrees")
    parser.add_argument("--shift", type=float, default=2.0, help="max shift, pixels")
    parser.add_argument("--elastic-alpha", type=float, default=20.0, help="elastic strength, pixels (0: none)")
    parser.add_argument("--elastic-sigma", type=float, default=4.0, help="elastic smoothness, pixels")
    parser.add_argument(
        "--minutes",
        type=float,
        default=15.0,
        help="training time limit: once past it (a busy CPU), stop after that epoch and keep the best epoch so far",
    )
    parser.add_argument(
        "--skip-test",
        action="store_true",
        help="leave the test split alone (for runs that choose hyperparameters on validation)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.image_size != IMAGE_SIDE:
        parser.error(f"--image-size must be {IMAGE_SIDE}: the distortions work on MNIST's own 28x28")
    if str(args.use_gpu).lower() not in ("cpu", "false"):
        parser.error("--use-gpu must be cpu: this recipe (its distortions, its time limit) is for the CPU")
    if args.model_path is None:  # a validation-only run must not replace the shipped model (no test figures)
        args.model_path = VALIDATION_RUN_PATH if args.skip_test else SHIPPED_PATH
    return args


def recipe_settings(args):
    "The notebook's Settings for this run: the command line's fields, label smoothing folded into the loss."
    loss = (
        args.loss_func if args.label_smoothing == 0 else torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    )
    fields = {name: value for name, value in vars(args).items() if hasattr(RECIPE, name)}
    return RECIPE.replace(**{**fields, "loss_func": loss})


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
    return {
        "label_smoothing": args.label_smoothing,
        "epochs_completed": completed,
        "time_limit_minutes": args.minutes,
        "stopped_at_time_limit": deadline.struck,
        "weights": "the epoch with the best validation accuracy",
        "augmentation": {"kind": "random affine + elastic, fresh per batch", **distort.params()},
        "seconds": round(seconds, 1),
    }


def distortion(args, train_loader):
    "The random distortion of training images the options ask for; what it uncovers gets a blank pixel's value."
    background = train_loader.preprocessing(torch.zeros(1, IMAGE_SIDE, IMAGE_SIDE))[0, 0].item()
    strengths = (args.rotation, args.scale, args.shear, args.shift, args.elastic_alpha, args.elastic_sigma)
    return RandomDistortion(background, *strengths, seed=args.seed)


def main(argv=None):
    "Train, test once, save; returns the saved path."
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = recipe_settings(args)
    loaders = h.load_data(settings, "cpu")
    distort = distortion(args, loaders[0])
    deadline = Deadline(args.minutes * 60)
    images = len(loaders[0].y)
    print(f"training {settings.neurons_per_layer} for {settings.training_epochs} epochs on {images} images", flush=True)
    net, history, seconds, _ = h.train_new_networks(
        settings, loaders, [settings.seed], progress=True, augment=distort, on_epoch_end=deadline
    )[0]
    for epoch, (train_acc, val_acc) in enumerate(zip(*history["accuracy"].values()), start=1):
        print(f"epoch {epoch:3d}: train acc {train_acc:.4f}  val acc {val_acc:.4f}")
    # The test split is looked at here once, for this final model only; with --skip-test (while choosing
    # hyperparameters) not at all.
    splits = ("train", "valid") if args.skip_test else ("train", "valid", "test")
    results = {split: h.score(net, loader.x, loader.y) for split, loader in zip(splits, loaders)}
    lines = [
        f"{split}: loss {scores['loss']:.4f}, accuracy {scores['accuracy']:.4f}" for split, scores in results.items()
    ]
    print(f"trained in {seconds:.0f} s", *lines, sep="\n", flush=True)
    command = shlex.join(["python", "scripts/train_shipped_model.py", *(sys.argv[1:] if argv is None else argv)])
    card = h.model_card(settings, results, history, seconds, machine=machine_description(), command=command)
    card["training"].update(training_record(args, distort, history, seconds, deadline))
    card["versions"]["torchvision"] = torchvision.__version__
    path = h.save_network(net, settings.model_path, metadata=card)
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB) and {path.with_suffix('.json')}")
    return path


if __name__ == "__main__":
    main()
