"""The GPU path, on a machine with CUDA (skipped elsewhere, as in CI): both engines agree there for every optimizer,
schedule and loss the CPU tests cover; the hand-written backward is autograd's; seeds stacked train as each alone;
the CUDA dropout masks drop their share; a seed repeats; models move between the GPU and the CPU; the ensemble
script trains a member there.

Tolerances: float32 on a GPU rounds like a CPU (about 1e-7 of a value per operation) but sums in another order and
splits matrix products otherwise, so results that agree to a few 1e-7 on one device agree to about 1e-6 across
them; training compounds that over its steps, so losses and weights are compared as the CPU tests compare them,
with ten times their margin. scripts/gpu_check.py runs this file.
"""

import pytest
import torch
from test_engines import COMBINATIONS, fresh_net

import helpers

if not torch.cuda.is_available():
    pytest.skip("no CUDA here: these tests need a GPU (scripts/gpu_check.py runs them there)", allow_module_level=True)

CUDA = torch.device("cuda")


@pytest.fixture
def cuda_loaders(tiny_loaders):
    "tiny_loaders' three splits, on the GPU."
    return [helpers.TensorLoader(loader.x.to(CUDA), loader.y.to(CUDA), 32) for loader in tiny_loaders]


def cuda_net(seed=0, dropout=0.0, sizes=(32, 16, 10)):
    return fresh_net(seed, dropout, sizes).to(CUDA)


def run(loaders, engine, net, **options):
    train, valid, _ = loaders
    settings = dict(learning_rate=3e-3, training_epochs=3, loss_func="cross_entropy", optimizer="adam")
    settings |= dict(batch_size=32, seed=3, progress=False, engine=engine) | options
    return helpers.train(net, train.x, train.y, valid.x, valid.y, **settings)


@pytest.mark.parametrize("loss_func", ["cross_entropy", "nll"])
@pytest.mark.parametrize("optimizer, schedule", COMBINATIONS)
def test_both_engines_agree_on_the_gpu(cuda_loaders, optimizer, schedule, loss_func):
    learning_rate = 0.05 if optimizer in ("sgd", "adagrad") else 3e-3
    options = dict(optimizer=optimizer, schedule=schedule, learning_rate=learning_rate, weight_decay=0.01)
    runs = [run(cuda_loaders, engine, cuda_net(), loss_func=loss_func, **options) for engine in ("eager", "fast")]
    (eager_net, eager_loss, _), (fast_net, fast_loss, _) = runs
    for split in ("train", "valid"):
        assert fast_loss[split] == pytest.approx(eager_loss[split], abs=1e-4)
    for eager_param, fast_param in zip(eager_net.parameters(), fast_net.parameters()):
        assert fast_param.device.type == "cuda"
        torch.testing.assert_close(fast_param, eager_param, rtol=1e-3, atol=1e-4)


def test_the_hand_written_backward_is_autograds_on_the_gpu():
    x, y = torch.randn(256, 784, device=CUDA), torch.arange(256, device=CUDA) % 10
    differences = helpers.gradient_check(cuda_net(dropout=0.3), x, y)
    assert max(differences.values()) < 1e-4, differences


def test_seeds_stacked_on_the_gpu_train_as_each_alone(cuda_loaders):
    train, valid, _ = cuda_loaders
    seeds = [0, 1, 2]
    nets = [cuda_net(seed, dropout=0.2) for seed in seeds]
    assert helpers._stack_pays(nets[0], 32, 3)  # always on a GPU
    data = (train.x, train.y, valid.x, valid.y, 3e-3, 3, "cross_entropy", "adam")
    together = helpers.train_together(nets, seeds, *data, batch_size=32, schedule="onecycle", progress=False)
    for seed, (net, losses, _) in zip(seeds, together):
        alone, alone_losses, _ = run(cuda_loaders, "fast", cuda_net(seed, dropout=0.2), seed=seed, schedule="onecycle")
        assert losses["valid"] == pytest.approx(alone_losses["valid"], rel=1e-4)
        for stacked, single in zip(net.parameters(), alone.parameters()):
            torch.testing.assert_close(stacked, single, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("dropout", [0.1, 0.5])
def test_the_cuda_dropout_masks_drop_their_share(dropout):
    generator = torch.Generator(CUDA).manual_seed(helpers._dropout_seed(0))
    buffer = torch.empty(1, 4096, 256, device=CUDA)
    bits = torch.empty(4096 * 256 // 4, dtype=torch.int64, device=CUDA)
    (mask,) = helpers._dropout_masks([buffer], bits, 4096, [generator], dropout)
    dropped, scale = helpers._dropout_words(dropout)
    assert (mask == 0).float().mean().item() == pytest.approx(dropout, abs=0.005)
    assert set(mask.unique().tolist()) == {0.0, pytest.approx(scale)}


def test_the_same_seed_gives_the_same_weights_twice_on_one_gpu(cuda_loaders):
    first, second = (run(cuda_loaders, "fast", cuda_net(dropout=0.2))[0] for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))


def test_a_model_saved_on_the_gpu_loads_on_the_cpu_and_back(tmp_path, tiny_loaders):
    net = cuda_net()
    path = helpers.save_network(net, tmp_path / "gpu.pt", preprocessing=tiny_loaders[0].preprocessing)
    on_cpu = helpers.load_network(path, "cpu")
    assert next(on_cpu.parameters()).device.type == "cpu"
    assert all(torch.equal(a.cpu(), b) for a, b in zip(net.parameters(), on_cpu.parameters()))
    back = helpers.load_network(helpers.save_network(on_cpu, tmp_path / "cpu.pt"), "cuda")
    assert next(back.parameters()).device.type == "cuda"
    x = tiny_loaders[2].x
    assert torch.equal(helpers.test(back, None, x.to(CUDA)), helpers.test(on_cpu, None, x))


def test_the_ensemble_script_trains_a_member_on_the_gpu_in_bfloat16(
    trained_tiny, tiny_loaders, idx_root, tmp_path, monkeypatch
):
    "scripts/train_ensemble.py --device cuda --members-dir, as a lent GPU would run it: the member's file says where."
    from test_not_a_digit import ensemble_script

    train_ensemble, paths = ensemble_script(trained_tiny, tiny_loaders, idx_root, tmp_path, monkeypatch)
    options = ["--members", "1", "--widths", "16", "--epochs", "2", "--drawings-per-kind", "3", "--device", "cuda"]
    folder = train_ensemble.main([*options, *paths, "--precision", "bfloat16", "--members-dir", str(tmp_path)])
    saved = helpers.load_network(folder / "member_100.pt", "cpu")
    record = saved.metadata["member"]
    assert record["device"] == torch.cuda.get_device_name() and record["epochs"] == 2
    valid = helpers.score(saved, tiny_loaders[1].x, tiny_loaders[1].y)["accuracy"]
    assert record["valid accuracy"] == pytest.approx(valid, abs=0.02)  # saved in float16: a digit may flip
