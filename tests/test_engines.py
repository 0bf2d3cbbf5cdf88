"""Step 3b: the fast engine does the eager loop's mathematics, keeps dropout where it belongs, and trains seeds together
as each would train alone, to float rounding."""

import re
import subprocess
import sys

import pytest
import torch
from torch import nn

import helpers

SCHEDULES = (None, "constant", "onecycle")
COMBINATIONS = [
    (optimizer, schedule)
    for optimizer in helpers._OPTIMIZERS
    for schedule in SCHEDULES
    if not (optimizer == "adagrad" and schedule == "onecycle")
]  # torch refuses that pair itself


# (loss, weight) tolerances from the measured spread, not from one run: over 30 data sets
# (`python scripts/engine_spread.py --datasets 30`, docs/testing.md) the engines ended at most 6e-7 apart in any
# epoch's loss and 1.1e-5 in any weight; RMSprop, whose square root divides by small squares, 2.3e-5 and 2.7e-4.
# Each tolerance is about four times its largest; a real mistake is off by 1e-3 or more.
SPREAD_TOLERANCES = {"others": (5e-6, 5e-5), "rmsprop": (1e-4, 1e-3)}


def fresh_net(seed=0, dropout=0.0, sizes=(32, 16, 10)):
    helpers.seed_everything(seed)
    return helpers.init_network(len(sizes) - 1, 784, list(sizes), dropout, device="cpu")


def run(loaders, engine, net=None, **options):
    train, valid, _ = loaders
    settings = (
        dict(
            learning_rate=3e-3,
            training_epochs=3,
            loss_func="cross_entropy",
            optimizer="adam",
            batch_size=32,
            seed=3,
            progress=False,
            engine=engine,
        )
        | options
    )
    return helpers.train(net or fresh_net(), train.x, train.y, valid.x, valid.y, **settings)


def test_one_cycle_is_torchs_schedule_step_by_step():
    for total_steps in (1, 7, 250):
        parameter = nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.Adam([parameter], lr=0.003)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.003, total_steps=total_steps)
        expected = []
        for _ in range(total_steps):
            expected.append((optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["betas"][0]))
            optimizer.step()
            scheduler.step()
        flat = [value for step in helpers._one_cycle(0.003, total_steps) for value in step]
        assert flat == pytest.approx([value for step in expected for value in step], rel=1e-12)


@pytest.mark.parametrize("optimizer, schedule", COMBINATIONS)
def test_fast_and_eager_compute_the_same_losses_and_weights(tiny_loaders, optimizer, schedule):
    learning_rate = 0.05 if optimizer in ("sgd", "adagrad") else 3e-3
    runs = [
        run(
            tiny_loaders,
            engine,
            fresh_net(),
            optimizer=optimizer,
            schedule=schedule,
            learning_rate=learning_rate,
            weight_decay=0.01,
        )
        for engine in ("eager", "fast")
    ]
    (eager_net, eager_loss, eager_accuracy), (fast_net, fast_loss, fast_accuracy) = runs
    loss_tolerance, weight_tolerance = SPREAD_TOLERANCES.get(optimizer, SPREAD_TOLERANCES["others"])
    for split in ("train", "valid"):
        assert fast_loss[split] == pytest.approx(eager_loss[split], abs=loss_tolerance)
        assert fast_accuracy[split] == pytest.approx(eager_accuracy[split], abs=1.5 / 200)  # a digit on the edge
    for eager_param, fast_param in zip(eager_net.parameters(), fast_net.parameters()):
        torch.testing.assert_close(fast_param, eager_param, rtol=0, atol=weight_tolerance)


def test_fast_nll_is_the_eager_nll(tiny_loaders):
    runs = [run(tiny_loaders, engine, fresh_net(), loss_func="nll") for engine in ("eager", "fast")]
    assert runs[1][1]["train"] == pytest.approx(runs[0][1]["train"], abs=1e-5)


@pytest.mark.parametrize("engine", ["eager", "fast"])
def test_dropout_is_on_in_every_training_epoch_and_off_in_every_evaluation(tiny_loaders, engine):
    # a learning rate of 1e-12 leaves the weights where they are: only dropout tells the epochs' losses apart
    net, loss_array, _ = run(
        tiny_loaders, engine, fresh_net(dropout=0.5), optimizer="sgd", learning_rate=1e-12, training_epochs=3
    )
    train, valid, _ = tiny_loaders
    without_dropout = helpers._evaluate(net, train.x, train.y)[0]
    for epoch_loss in loss_array["train"]:  # each epoch trained with half the units dropped
        assert abs(epoch_loss - without_dropout) > 0.02
    assert len(set(loss_array["train"])) == 3  # fresh masks every epoch
    assert loss_array["valid"] == pytest.approx([helpers._evaluate(net, valid.x, valid.y)[0]] * 3, abs=1e-6)


def test_fast_dropout_drops_a_fraction_p_and_scales_the_rest():
    buffers, bits = [torch.empty(2, 500, 64)], torch.empty(500 * 64 // 4, dtype=torch.int64)
    generators = [torch.Generator().manual_seed(seed) for seed in (0, 1)]
    (mask,) = helpers._dropout_masks(buffers, bits, 500, generators, 0.3)
    assert (mask == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    dropped, scale = helpers._dropout_words(0.3)  # p rounded to 16-bit marks: 19661 of 65536
    assert dropped == 19661 and scale == 65536 / (65536 - 19661) == pytest.approx(1 / 0.7, rel=1e-4)
    assert mask.unique().tolist() == [0.0, pytest.approx(scale, rel=1e-7)]
    assert not torch.equal(mask[0], mask[1])  # each net its own masks
    # the backward pass scales by exactly what the masks carry; p next to 1 still leaves one mark in 65536 kept
    assert helpers._StackedMLPs([fresh_net(dropout=0.3)]).keep_scale == scale
    assert helpers._dropout_words(1 - 1e-9) == (65535, 65536.0)


def test_dropout_masks_come_from_a_stream_of_their_own():
    "A CPU generator keeps only a seed's low 32 bits: the masks' seed must differ there from the batch order's."
    for seed in range(100):
        assert helpers._dropout_seed(seed) % 2**32 != seed % 2**32
    draws = [
        torch.empty(250, dtype=torch.int64).random_(-(2**63), 2**63 - 1, generator=torch.Generator().manual_seed(seed))
        for seed in (helpers._dropout_seed(0), 0)
    ]
    assert not torch.equal(*draws)


@pytest.mark.parametrize("pieces", [1, 2])
def test_a_stacked_seed_trains_as_it_would_alone(tiny_loaders, monkeypatch, pieces):
    monkeypatch.setattr(helpers, "_first_layer_pieces", lambda count, *_: pieces if count > 1 else 1)
    train, valid, _ = tiny_loaders
    seeds = [0, 1, 2]
    nets = [fresh_net(seed, dropout=0.2) for seed in seeds]
    together = helpers.train_together(
        nets,
        seeds,
        train.x,
        train.y,
        valid.x,
        valid.y,
        3e-3,
        3,
        "cross_entropy",
        "adam",
        batch_size=32,
        schedule="onecycle",
        progress=False,
    )
    for seed, (net, loss_array, accuracy_array) in zip(seeds, together):
        alone, alone_loss, alone_accuracy = run(
            tiny_loaders, "fast", fresh_net(seed, dropout=0.2), seed=seed, schedule="onecycle"
        )
        for split in ("train", "valid"):  # float rounding differs (the first layer summed in pieces), no more
            assert loss_array[split] == pytest.approx(alone_loss[split], rel=1e-5)
            assert accuracy_array[split] == pytest.approx(alone_accuracy[split], abs=1.5 / 200)
        for stacked_param, alone_param in zip(net.parameters(), alone.parameters()):
            torch.testing.assert_close(stacked_param, alone_param, rtol=0, atol=1e-6)
            assert stacked_param.is_contiguous() and stacked_param.untyped_storage().size() == alone_param.nbytes
    assert together[0][1] != together[1][1]  # own weights, order and masks: own histories


def test_each_seed_has_its_own_batch_order_and_masks(tiny_loaders):
    train, valid, _ = tiny_loaders
    nets = [fresh_net(0, dropout=0.2) for _ in range(2)]  # the same initial weights
    first, second = helpers.train_together(
        nets,
        [0, 1],
        train.x,
        train.y,
        valid.x,
        valid.y,
        3e-3,
        1,
        "cross_entropy",
        "adam",
        batch_size=32,
        progress=False,
    )
    assert first[1] != second[1]


def test_on_epoch_end_sees_the_current_weights_on_the_fast_engine(tiny_loaders):
    _, valid, _ = tiny_loaders
    seen = []
    run(
        tiny_loaders,
        "fast",
        on_epoch_end=lambda epoch, net, loss, accuracy: seen.append(
            (helpers._evaluate(net, valid.x, valid.y)[0], loss["valid"][-1])
        ),
    )
    assert len(seen) == 3 and all(now == pytest.approx(recorded, abs=1e-6) for now, recorded in seen)


@pytest.mark.parametrize(
    "changes, reason",
    [
        (dict(optimizer=torch.optim.Adam), "optimizer"),
        (dict(loss_func=nn.CrossEntropyLoss()), "loss_func"),
        (dict(loss_func="multi_margin"), "loss_func"),
        (dict(augment=lambda x: x), "augment"),
        (dict(precision="bfloat16"), "precision"),
        (dict(optimizer="adagrad", schedule="onecycle"), "adagrad"),
        (dict(schedule="cosine"), "schedule"),
    ],
)
def test_auto_falls_back_to_eager_where_fast_does_not_apply_and_fast_says_why(changes, reason):
    arguments = (
        dict(loss_func="cross_entropy", optimizer="adam", schedule=None, augment=None, precision="float32") | changes
    )
    net = fresh_net()
    engine, why = helpers.choose_engine("auto", net, **arguments)
    assert engine == "eager" and reason in why
    with pytest.raises(ValueError, match=f"engine='fast' does not cover this run: .*{reason}"):
        helpers.choose_engine("fast", net, **arguments)


def test_engine_names_are_checked(tiny_loaders):
    with pytest.raises(ValueError, match=r"engine must be one of \('auto', 'eager', 'fast'\), got 'turbo'"):
        run(tiny_loaders, "turbo")


def test_auto_trains_main_defaults_on_the_fast_engine():
    "CI fails here if 'auto' falls back to the eager loop for the configuration the notebook trains."
    s = helpers.SETTINGS
    net = helpers.init_network(s.no_of_layers, s.image_size**2, s.neurons_per_layer, s.dropout, device="cpu")
    assert s.engine == "auto"
    assert helpers.choose_engine(s.engine, net, s.loss_func, s.optimizer, s.schedule, None, s.precision) == (
        "fast",
        "covers every argument",
    )


def test_train_together_refuses_mixed_architectures_and_missing_seeds(tiny_loaders):
    train, valid, _ = tiny_loaders
    arguments = (train.x, train.y, valid.x, valid.y, 3e-3, 1, "cross_entropy", "adam")
    with pytest.raises(ValueError, match="one architecture, one per seed"):
        helpers.train_together([fresh_net(), fresh_net(sizes=(8, 10))], [0, 1], *arguments, batch_size=32)
    with pytest.raises(ValueError, match="one architecture, one per seed"):
        helpers.train_together([fresh_net(), fresh_net()], [0], *arguments, batch_size=32)


def test_stacking_is_chosen_only_where_it_pays():
    small, large = fresh_net(sizes=(100, 50, 10)), fresh_net(sizes=(512, 256, 10))
    assert helpers._stack_pays(small, 64, 3) and not helpers._stack_pays(small, 64, 1)
    assert not helpers._stack_pays(large, 256, 3)
    main_network = helpers.init_network(2, 400, [512, 256, 10], 0.1, device="cpu")  # main()'s: measured slower stacked
    assert not helpers._stack_pays(main_network, 64, 3)


def test_the_fast_engine_never_imports_torch_dynamo(idx_root):
    "A torch.optim optimizer imports torch._dynamo on first use (seconds); the fast engine needs none."
    script = (
        f"import sys; sys.path.insert(0, {str(helpers.NOTEBOOK.parent)!r}); import helpers\n"
        f"train, valid, _ = helpers.loadDataset({str(idx_root)!r}, 100, 50, 10, 32, device='cpu')\n"
        "net = helpers.init_network(1, 784, [16, 10], 0.1, device='cpu')\n"
        "helpers.train(net, train.x, train.y, valid.x, valid.y, 1e-3, 1, 'cross_entropy', 'adam', "
        "batch_size=32, progress=False)\n"
        "print('torch._dynamo' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("pieces, sizes", [(1, (32, 16, 10)), (2, (32, 16, 10)), (4, (32, 16, 10)), (2, (10,))])
def test_the_hand_written_backward_is_autograds_with_the_same_masks(pieces, sizes):
    nets = [fresh_net(seed, dropout=0.25, sizes=sizes) for seed in (0, 1)]
    stack = helpers._StackedMLPs(nets, pieces)
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 16, 784, generator=generator), torch.randint(0, 10, (2, 16), generator=generator)
    masks = [(torch.rand(2, 16, width, generator=generator) >= 0.25) / 0.75 for width in sizes[:-1]]
    cut = x.unflatten(2, (pieces, 784 // pieces)).transpose(1, 2)  # as _train_stacked_epoch gathers the inputs
    activations = helpers._stacked_forward(stack.layers, stack.pieces, cut, masks)
    picked, predicted = helpers._stacked_backward(stack, activations, y)
    hand_gradients = [helpers._join_columns(stack.grads[0]), *stack.grads[1:]]
    for number, net in enumerate(nets):
        hidden = x[number]
        linears = [layer for layer in net if isinstance(layer, nn.Linear)]
        for linear, mask in zip(linears[:-1], masks):
            hidden = torch.relu(linear(hidden)) * mask[number]
        logits = linears[-1](hidden)
        loss = nn.functional.cross_entropy(logits, y[number])
        gradients = torch.autograd.grad(loss, [param for linear in linears for param in linear.parameters()])
        for hand, auto in zip(hand_gradients, gradients):
            torch.testing.assert_close(hand[number], auto, rtol=1e-4, atol=1e-6)
        assert -picked[number].mean().item() == pytest.approx(loss.item(), rel=1e-5)
        assert torch.equal(predicted[number], logits.argmax(1))


def test_the_stack_cuts_the_first_layer_into_column_blocks_and_back():
    stack = helpers._StackedMLPs([fresh_net(0), fresh_net(1)], pieces=4)
    weights = torch.stack([linears[0].weight.detach() for linears in stack.linears])
    cut = stack.layers[0][0]
    assert cut.shape == (2, 4, 32, 196) and cut.is_contiguous()
    assert torch.equal(cut[1, 2], weights[1][:, 392:588])  # net 1, piece 2: columns 392 to 587
    assert torch.equal(helpers._join_columns(cut), weights)


@pytest.mark.parametrize("pieces", [1, 2])
def test_an_epoch_in_small_chunks_trains_as_one_in_a_single_chunk(tiny_loaders, pieces):
    "Dropout off: the chunks only change where the batches are gathered, never what a step computes."
    train, _, _ = tiny_loaders
    orders = torch.stack([torch.randperm(len(train.y), generator=torch.Generator().manual_seed(s)) for s in (0, 1)])
    stacks = []
    for chunk_rows in (64, 8192):  # 200 images: four chunks (the last one short), or one
        stack = helpers._StackedMLPs([fresh_net(0), fresh_net(1)], pieces)
        recipe = helpers._Recipe(3e-3, 1, "cross_entropy", "adam", 32)
        update = helpers._FusedUpdate(stack.params, stack.grads, recipe, 7)
        with torch.no_grad():
            helpers._train_stacked_epoch(stack, train.x.contiguous(), train.y, orders, 32, update, [], chunk_rows)
        stacks.append(stack)
    for chunked, whole in zip(*(stack.params for stack in stacks)):
        torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-6)


def test_the_first_layer_is_cut_so_the_threads_share_the_products_evenly():
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert helpers._first_layer_pieces(3, 784, cpu, 2) == 2  # 6 products, 3 per thread
    assert helpers._first_layer_pieces(3, 784, cpu, 4) == 4  # 12 products, 3 per thread
    assert helpers._first_layer_pieces(2, 784, cpu, 2) == 1  # 2 whole products already share 2 threads
    assert helpers._first_layer_pieces(4, 600, cpu, 6) == 3 and helpers._first_layer_pieces(4, 600, cpu, 30) == 1
    assert helpers._first_layer_pieces(1, 784, cpu, 2) == 1  # one net: the BLAS splits its product itself
    assert helpers._first_layer_pieces(3, 783, cpu, 2) == 1  # no equal blocks
    assert helpers._first_layer_pieces(3, 784, gpu, 2) == 1


def test_an_epoch_hook_that_changes_a_stacked_nets_weights_changes_its_training(tiny_loaders):
    train, valid, _ = tiny_loaders
    shifted = []

    def shift_the_output_bias(epoch, net, loss_array, accuracy_array):
        if epoch == 1:
            net[-1].bias.data += 100.0
        shifted.append(net[-1].bias.detach().clone())

    arguments = (train.x, train.y, valid.x, valid.y, 1e-4, 2, "cross_entropy", "adam")
    nets = [fresh_net(seed) for seed in (0, 1)]
    helpers.train_together(nets, [0, 1], *arguments, batch_size=32, on_epoch_end=shift_the_output_bias, progress=False)
    first_net_after_epoch_1, _, first_net_after_epoch_2, _ = shifted
    assert torch.allclose(first_net_after_epoch_2, first_net_after_epoch_1, atol=0.1)  # trained on from the shift
    assert first_net_after_epoch_1.min() > 99.0


def test_train_together_trains_one_after_another_where_a_stack_does_not_pay(tiny_loaders, monkeypatch):
    train, valid, _ = tiny_loaders
    stacks = []
    original = helpers._StackedMLPs

    def spy(nets, pieces=None):
        stacks.append(len(nets))
        return original(nets, pieces)

    monkeypatch.setattr(helpers, "_StackedMLPs", spy)
    monkeypatch.setattr(helpers, "_STACK_LIMIT", 0)
    arguments = (train.x, train.y, valid.x, valid.y, 3e-3, 3, "cross_entropy", "adam")
    together = helpers.train_together([fresh_net(0), fresh_net(1)], [0, 1], *arguments, batch_size=32, progress=False)
    assert stacks == [1, 1]
    for seed, (net, loss_array, _) in enumerate(together):
        alone, alone_loss, _ = run(tiny_loaders, "fast", fresh_net(seed), seed=seed)
        assert loss_array == alone_loss
        assert all(torch.equal(a, b) for a, b in zip(net.parameters(), alone.parameters()))


def test_gradient_check_finds_the_hand_written_backward_right():
    net = fresh_net(0, dropout=0.3)
    x, y = torch.randn(64, 784, generator=torch.Generator().manual_seed(1)), torch.arange(64) % 10
    differences = helpers.gradient_check(net, x, y)
    assert list(differences) == [name for name, _ in net.named_parameters()]
    assert max(differences.values()) < 1e-5


def test_gradient_check_reports_a_wrong_backward(monkeypatch):
    "A backward pass that gets one layer's weight gradient 2% wrong is reported, that layer alone."
    original = helpers._stacked_backward

    def wrong(stack, activations, y):
        result = original(stack, activations, y)
        stack.grads[0].mul_(1.02)
        return result

    monkeypatch.setattr(helpers, "_stacked_backward", wrong)
    differences = helpers.gradient_check(fresh_net(0, dropout=0.3), torch.randn(64, 784), torch.arange(64) % 10)
    assert differences["fc1.weight"] == pytest.approx(0.02, rel=1e-3)
    assert max(value for name, value in differences.items() if name != "fc1.weight") < 1e-5


@pytest.fixture
def fused_adam(monkeypatch):
    "torch.optim's functional Adam, with its fused form replaced by the test; the probe's answers forgotten."
    real = helpers._FUNCTIONAL["adam"]
    helpers._fused_works.cache_clear()
    yield lambda fused_form: monkeypatch.setitem(
        helpers._FUNCTIONAL,
        "adam",
        lambda *args, fused=None, **kwargs: (fused_form if fused else real)(*args, **kwargs),
    )
    helpers._fused_works.cache_clear()


def missing(*args, **kwargs):
    raise RuntimeError("_fused_adam_ is not implemented for this device")


def test_the_fast_engine_asks_whether_a_fused_update_is_there(fused_adam, tiny_loaders):
    "A missing fused kernel: one warning naming it, then the same training, unfused."
    fused_adam(missing)
    with pytest.warns(RuntimeWarning, match=r"fused adam update on cpu fails \(RuntimeError: _fused_adam_ is not"):
        _, fast_loss, _ = run(tiny_loaders, "fast")
    _, eager_loss, _ = run(tiny_loaders, "eager")
    assert fast_loss["valid"] == pytest.approx(eager_loss["valid"], abs=1e-5)
    assert helpers._fused_works("adam", "cpu") is False  # asked once: no second warning


def test_a_fused_update_that_computes_otherwise_is_not_used(fused_adam):
    "A kernel that is there but gives another result than torch's unfused arithmetic is refused the same way."
    real = helpers._FUNCTIONAL["adam"]

    def changed(params, *args, **kwargs):
        real(params, *args, **kwargs)
        torch._foreach_add_(params, 1e-3)

    fused_adam(changed)
    with pytest.warns(RuntimeWarning, match="fused adam update on cpu gives another result than the unfused one"):
        assert helpers._fused_works("adam", "cpu") is False
    assert helpers._fused_works("sgd", "cpu") is True and helpers._fused_works("rmsprop", "cpu") is False


def tanh_net():
    "The classic experiment: ReLU replaced by Tanh."
    net = fresh_net()
    net.relu1, net.relu2 = nn.Tanh(), nn.Tanh()
    return net


class CustomForward(helpers.MLP):
    def forward(self, x):
        return super().forward(x) * 2


@pytest.mark.parametrize(
    "change, why",
    [
        (tanh_net, r"net's layers are Flatten, Linear, Tanh, Dropout, Linear, Tanh, Dropout, Linear, not"),
        (lambda: fresh_net().double(), r"net's weights are not all float32"),
        (lambda: setattr(net := fresh_net(dropout=0.1), "dropout1", nn.Dropout(0.5)) or net, r"a Dropout's p is not"),
        (lambda: None, r"some of net's weights are frozen"),
        (lambda: setattr(net := fresh_net(), "dropout1", nn.AlphaDropout(0.0)) or net, r"layers are .*AlphaDropout"),
    ],
)
def test_the_fast_engine_runs_only_what_its_step_computes(change, why):
    net = change()
    if net is None:  # a frozen layer
        net = fresh_net()
        net.fc1.weight.requires_grad_(False)
    engine, reason = helpers.choose_engine("auto", net, "cross_entropy", "adam", "onecycle")
    assert engine == "eager" and re.search(why, reason)
    with pytest.raises(ValueError, match=rf"engine='fast' does not cover this run: .*{why}"):
        helpers.choose_engine("fast", net, "cross_entropy", "adam", "onecycle")


def test_a_network_whose_class_changes_its_forward_trains_eagerly():
    helpers.seed_everything(0)
    net = CustomForward(2, 784, [32, 16, 10], 0.0)
    assert helpers.choose_engine("auto", net, "cross_entropy", "adam") == (
        "eager",
        "net's class changes how its layers are called",
    )


def test_a_tanh_network_trains_as_autograd_says_on_auto(tiny_loaders):
    "Tanh where the hand-written step would do ReLU maths: engine='auto' trains it eagerly, so the losses are its own."
    _, auto_loss, _ = run(tiny_loaders, "auto", tanh_net())
    _, eager_loss, _ = run(tiny_loaders, "eager", tanh_net())
    assert auto_loss["valid"] == eager_loss["valid"]


def test_a_float64_network_trains_eagerly_instead_of_failing(tiny_loaders):
    train, valid, _ = tiny_loaders
    net = fresh_net().double()
    with pytest.raises(ValueError, match="engine='fast' does not cover"):
        helpers.choose_engine("fast", net, "cross_entropy", "adam")
    data = (train.x.double(), train.y, valid.x.double(), valid.y)
    _, losses, _ = helpers.train(net, *data, 3e-3, 1, "cross_entropy", "adam", batch_size=32, progress=False)
    assert len(losses["train"]) == 1


def test_a_stop_asked_by_any_seed_stops_the_whole_stack(tiny_loaders):
    "train_together's hook runs for every net; a True from the first (not only the last) ends the stack's training."
    train, valid, _ = tiny_loaders
    nets = [fresh_net(seed) for seed in (0, 1, 2)]
    assert helpers._stack_pays(nets[0], 32, 3)
    data = (train.x, train.y, valid.x, valid.y, 3e-3, 5, "cross_entropy", "adam")
    stop_after_the_first = lambda epoch, net, *_: net is nets[0]  # noqa: E731
    runs = helpers.train_together(
        nets, [0, 1, 2], *data, batch_size=32, on_epoch_end=stop_after_the_first, progress=False
    )
    assert [len(losses["train"]) for _, losses, _ in runs] == [1, 1, 1]


@pytest.mark.parametrize(
    "seeds, message",
    [
        ([0, 0, 1], r"seeds must be different .*got \[0, 0, 1\]"),
        (2, r"seeds must be a non-empty list"),
        ([], "non-empty"),
    ],
)
def test_train_together_refuses_seeds_that_would_not_train_one_network_each(tiny_loaders, seeds, message):
    train, valid, _ = tiny_loaders
    nets = [fresh_net(seed) for seed in (0, 1, 2)]
    data = (train.x, train.y, valid.x, valid.y, 3e-3, 1, "cross_entropy", "adam")
    with pytest.raises(ValueError, match=message):
        helpers.train_together(nets, seeds, *data, batch_size=32, progress=False)


def test_gradient_check_refuses_a_network_the_fast_step_does_not_compute():
    with pytest.raises(ValueError, match=r"net is not what the fast step computes: net's layers are .*Tanh"):
        helpers.gradient_check(tanh_net(), torch.randn(8, 784), torch.arange(8))
