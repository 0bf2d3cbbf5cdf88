"""Step 3: train learns, records per-epoch history, keeps the best weights and fails clearly."""

import pytest
import torch
from torch import nn

import helpers


def fresh_net(seed=0):
    torch.manual_seed(seed)
    return helpers.init_network(1, 784, [32, 10], 0.1, device="cpu")


@pytest.fixture(params=["eager", "fast"])
def engine(request):
    "Both training engines (section 3b): each test taking this runs once with each."
    return request.param


def run(loaders, net=None, **options):
    train, valid, _ = loaders
    settings = (
        dict(
            learning_rate=3e-3,
            training_epochs=4,
            loss_func="cross_entropy",
            optimizer="adam",
            batch_size=32,
            progress=False,
        )
        | options
    )
    return helpers.train(net or fresh_net(), train.x, train.y, valid.x, valid.y, **settings)


def test_learns_the_synthetic_digits(tiny_loaders, engine):
    net, loss_array, accuracy_array = run(tiny_loaders, training_epochs=6, engine=engine)
    assert set(loss_array) == set(accuracy_array) == {"train", "valid"}
    assert all(len(values) == 6 for values in (*loss_array.values(), *accuracy_array.values()))
    assert loss_array["train"][-1] < loss_array["train"][0]
    # the synthetic classes overlap: accuracy must climb over the epochs to well above chance (0.1)
    assert accuracy_array["valid"][-1] >= accuracy_array["valid"][0] + 0.1
    assert max(accuracy_array["valid"]) >= 0.75


def test_returns_the_best_validation_weights_in_eval_mode(tiny_loaders, engine):
    net, _, accuracy_array = run(tiny_loaders, training_epochs=5, engine=engine)
    _, valid, _ = tiny_loaders
    assert not net.training
    assert helpers._evaluate(net, valid.x, valid.y)[1] == max(accuracy_array["valid"])


def test_history_is_per_sample_and_consistent_with_evaluate(tiny_loaders, engine):
    net, loss_array, _ = run(tiny_loaders, training_epochs=1, learning_rate=1e-12, engine=engine)  # weights stay
    _, valid, _ = tiny_loaders
    assert loss_array["valid"][0] == pytest.approx(helpers._evaluate(net, valid.x, valid.y)[0], rel=1e-4)
    assert 1.0 < loss_array["train"][0] < 5.0  # a mean per sample near ln(10), not a sum over batches


def test_same_seed_same_history(tiny_loaders, engine):
    first = run(tiny_loaders, net=fresh_net(1), seed=5, engine=engine)
    second = run(tiny_loaders, net=fresh_net(1), seed=5, engine=engine)
    assert first[1] == second[1] and first[2] == second[2]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "SGD", torch.optim.Adam])
def test_optimizer_names_and_classes(tiny_loaders, optimizer):
    learning_rate = 0.05 if optimizer in ("sgd", "SGD", "adagrad") else 3e-3
    _, loss_array, _ = run(tiny_loaders, optimizer=optimizer, learning_rate=learning_rate, training_epochs=3)
    assert loss_array["train"][-1] < loss_array["train"][0]


def test_ready_optimizer_and_loss_objects(tiny_loaders):
    net = fresh_net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    _, loss_array, _ = run(tiny_loaders, net=net, optimizer=optimizer, loss_func=nn.CrossEntropyLoss())
    assert loss_array["train"][-1] < loss_array["train"][0]


@pytest.mark.parametrize("loss_func", ["cross_entropy", "CrossEntropy", "nll", "multi_margin"])
def test_loss_names(tiny_loaders, loss_func):
    _, _, accuracy_array = run(tiny_loaders, loss_func=loss_func)
    assert max(accuracy_array["valid"]) >= 0.6


def test_unknown_names_list_the_known_ones(tiny_loaders):
    with pytest.raises(ValueError, match="optimizer must be one of .*'adam'.*'sgd'"):
        run(tiny_loaders, optimizer="lbfgs2")
    with pytest.raises(ValueError, match="loss_func must be one of .*'cross_entropy'"):
        run(tiny_loaders, loss_func="hinge2")


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(learning_rate=0), "learning_rate"),
        (dict(training_epochs=0), "training_epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(schedule="cosine"), "schedule"),
        (dict(precision="float16"), "precision must be 'float32' or 'bfloat16'"),
    ],
)
def test_bad_arguments(tiny_loaders, options, message):
    with pytest.raises(ValueError, match=message):
        run(tiny_loaders, **options)


def test_mismatched_lengths(tiny_loaders):
    train, valid, _ = tiny_loaders
    with pytest.raises(ValueError, match="train_set_x and train_set_y"):
        helpers.train(fresh_net(), train.x, train.y[:-1], valid.x, valid.y, 1e-3, 1, "cross_entropy", "adam")


def test_non_finite_loss_stops_and_suggests_a_smaller_learning_rate(tiny_loaders):
    def exploding(logits, target):
        return nn.functional.cross_entropy(logits, target) * float("inf")

    with pytest.raises(FloatingPointError, match="smaller learning_rate"):
        run(tiny_loaders, loss_func=exploding)


def test_interrupt_returns_what_was_trained(tiny_loaders):
    calls = {"count": 0}

    def interrupt_in_third_epoch(batch):
        calls["count"] += 1
        if calls["count"] > 2 * 7:  # 7 batches per epoch: two epochs complete
            raise KeyboardInterrupt
        return batch

    with pytest.warns(RuntimeWarning, match="interrupted after 2 complete epoch"):
        net, loss_array, _ = run(tiny_loaders, augment=interrupt_in_third_epoch, training_epochs=5)
    assert len(loss_array["train"]) == 2 and not net.training


def test_onecycle_schedule_and_augment_hook(tiny_loaders):
    seen = []
    _, _, accuracy_array = run(tiny_loaders, schedule="onecycle", augment=lambda batch: seen.append(1) or batch)
    assert len(seen) == 4 * 7 and max(accuracy_array["valid"]) >= 0.6


def test_progress_bar_can_be_switched_off(tiny_loaders, capsys):
    run(tiny_loaders, training_epochs=1, progress=False)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_bfloat16_precision_trains_in_bfloat16_and_validates_in_float32(tiny_loaders):
    net = fresh_net()
    output_dtypes = set()
    net.fc1.register_forward_hook(lambda module, inputs, output: output_dtypes.add(output.dtype))
    net, loss_array, accuracy_array = run(tiny_loaders, net=net, precision="bfloat16", training_epochs=6)
    assert torch.bfloat16 in output_dtypes  # training forwards ran in bfloat16 ...
    assert torch.float32 in output_dtypes  # ... validation in float32
    assert loss_array["train"][-1] < loss_array["train"][0] and max(accuracy_array["valid"]) >= 0.75


def test_on_epoch_end_sees_every_epoch_and_can_stop_training(tiny_loaders):
    seen = []

    def stop_after_two(epoch, net, loss_array, accuracy_array):
        seen.append((epoch, len(loss_array["train"]), len(accuracy_array["valid"]), net.training))
        return epoch == 2

    net, loss_array, _ = run(tiny_loaders, training_epochs=5, on_epoch_end=stop_after_two)
    assert seen == [(1, 1, 1, False), (2, 2, 2, False)]  # after validation: the net is in eval mode
    assert len(loss_array["train"]) == 2 and not net.training


def test_train_one_epoch_passes_over_a_loader_once_and_reports_its_mean_loss(tiny_loaders):
    train, _, _ = tiny_loaders
    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [32, 10], 0.0, device="cpu")  # no dropout: training mode = eval mode
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)  # steps leave the weights as they are
    seen = []
    loss, accuracy = helpers._train_one_epoch(
        net, train, nn.CrossEntropyLoss(), optimizer, augment=lambda batch: seen.append(len(batch)) or batch
    )
    assert sum(seen) == len(train.y) and len(seen) == len(train)
    expected_loss, expected_accuracy, _ = helpers._evaluate(net, train.x, train.y)
    assert loss == pytest.approx(expected_loss, rel=1e-5) and accuracy == expected_accuracy


def test_each_loss_name_gives_its_own_loss():
    logits, target = torch.randn(6, 10, generator=torch.Generator().manual_seed(0)), torch.arange(6)
    expected = {
        "cross_entropy": nn.functional.cross_entropy(logits, target),
        "nll": nn.functional.cross_entropy(logits, target),
        "multi_margin": nn.functional.multi_margin_loss(logits, target),
    }
    for name, value in expected.items():
        assert helpers._make_loss(name)(logits, target).item() == pytest.approx(value.item(), rel=1e-6)


def test_an_augment_may_append_unlabelled_inputs_which_the_loss_sees_and_the_accuracy_does_not(tiny_loaders):
    "Outlier exposure (scripts/train_ensemble.py): augment appends non-digits; the loss gets every row."
    train, valid, _ = tiny_loaders
    seen = []

    def loss(logits, labels):
        seen.append(len(logits) - len(labels))
        return torch.nn.functional.cross_entropy(logits[: len(labels)], labels) - logits[len(labels) :].mean() * 0

    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")
    appended = lambda batch: torch.cat([batch, torch.zeros(5, 784)])  # noqa: E731
    _, losses, accuracies = helpers.train(  # a learning rate of 1e-12: the weights stay, so accuracy can be checked
        net, train.x, train.y, valid.x, valid.y, 1e-12, 1, loss, "sgd", batch_size=32, augment=appended, progress=False
    )
    assert seen.count(5) == len(train) and set(seen) == {0, 5}  # every training batch; validation appends none
    assert accuracies["train"][0] == helpers._evaluate(net, train.x, train.y)[1]  # the labelled rows only
