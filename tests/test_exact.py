"""Exact behaviour, pinned where it is exact: losses, optimizers, schedules, best weights, seeds, metrics, main's
test row and predict_image's preprocessing. Each test fails for a plausible mistake named in its docstring."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import helpers

LOGITS = torch.tensor([[2.0, -1.0, 0.5, 0, 0, 0, 0, 0, 0, 0.3], [0.1, 0.2, 3.0, 0, 0, 0, 0, 0, -2, 0]])
TARGETS = torch.tensor([0, 2])


@pytest.mark.parametrize(
    "name, reference",
    [
        ("cross_entropy", lambda: F.cross_entropy(LOGITS, TARGETS)),
        ("nll", lambda: F.nll_loss(F.log_softmax(LOGITS, dim=1), TARGETS)),
        ("multi_margin", lambda: F.multi_margin_loss(LOGITS, TARGETS)),
    ],
)
def test_each_named_loss_is_torchs(name, reference):
    "A loss name mapped to the wrong function, or a softmax applied twice."
    assert helpers._make_loss(name)(LOGITS, TARGETS).item() == pytest.approx(reference().item(), rel=1e-6)


def test_a_passed_optimizer_object_is_the_one_that_steps(tiny_loaders):
    "An optimizer object replaced by a fresh one of train's own."
    train, valid, _ = tiny_loaders
    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    helpers.train(
        net, train.x, train.y, valid.x, valid.y, 1e-3, 1, "cross_entropy", optimizer, batch_size=50, progress=False
    )
    assert all(state["step"].item() == 4 for state in optimizer.state.values())  # 200 images / 50: four steps


def test_the_onecycle_schedule_rises_then_falls(tiny_loaders):
    "schedule='onecycle' ignored (a constant learning rate)."
    train, valid, _ = tiny_loaders
    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    rates = []
    helpers.train(
        net,
        train.x,
        train.y,
        valid.x,
        valid.y,
        0.05,
        8,
        "cross_entropy",
        optimizer,
        batch_size=32,
        schedule="onecycle",
        progress=False,
        on_epoch_end=lambda *state: rates.append(optimizer.param_groups[0]["lr"]),
    )
    peak = rates.index(max(rates))
    assert 0 < peak < len(rates) - 1 and rates[0] < rates[peak] and rates[-1] < rates[0] / 10


def test_the_best_validation_weights_are_the_ones_returned(tiny_loaders):
    "train returning the last epoch's weights instead of the best epoch's."
    train, valid, _ = tiny_loaders
    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")
    snapshots = []

    def spoil_after_the_second_epoch(epoch, net, loss_array, accuracy_array):
        snapshots.append({name: tensor.clone() for name, tensor in net.state_dict().items()})
        if epoch >= 2:  # later epochs start from weights that cannot classify: validation accuracy falls
            with torch.no_grad():
                for parameter in net.parameters():
                    parameter.zero_()

    plain_sgd = torch.optim.SGD(net.parameters(), lr=0.1)  # no momentum: zero weights get no gradient, stay put
    trained, _, accuracy_array = helpers.train(
        net,
        train.x,
        train.y,
        valid.x,
        valid.y,
        0.1,
        4,
        "cross_entropy",
        plain_sgd,
        batch_size=32,
        progress=False,
        on_epoch_end=spoil_after_the_second_epoch,
    )
    best = int(np.argmax(accuracy_array["valid"]))
    assert accuracy_array["valid"][-1] < max(accuracy_array["valid"])
    assert all(torch.equal(trained.state_dict()[name], tensor) for name, tensor in snapshots[best].items())


def test_different_seeds_give_different_histories_and_the_training_accuracy_is_its_own(tiny_loaders):
    "A seed that is ignored, or validation accuracy written into the training history."
    train, valid, _ = tiny_loaders
    histories = []
    for seed in (1, 2):
        torch.manual_seed(0)  # the same initial weights: only train's seed differs (batch order, dropout)
        net = helpers.init_network(1, 784, [16, 10], 0.3, device="cpu")
        histories.append(
            helpers.train(
                net,
                train.x,
                train.y,
                valid.x,
                valid.y,
                3e-3,
                3,
                "cross_entropy",
                "adam",
                batch_size=32,
                seed=seed,
                progress=False,
            )
        )
    assert histories[0][1]["train"] != histories[1][1]["train"]
    assert histories[0][2]["train"] != histories[0][2]["valid"]


def test_precision_and_recall_on_a_hand_made_confusion():
    "Precision and recall swapped in the report."
    y_true = torch.tensor([0, 0, 0, 0, 1, 1] + list(range(2, 10)))
    y_pred = torch.tensor([0, 0, 0, 1, 1, 1] + list(range(2, 10)))  # one 0 called 1
    report = helpers._report_metrics(y_true, y_pred)["report"]

    def row(digit):
        return [float(value) for value in re.search(rf"^\s+{digit}\s+(\S+)\s+(\S+)", report, re.M).groups()]

    assert row(0) == [1.0, 0.75]  # every predicted 0 is a 0; three of four 0s found
    assert row(1) == [pytest.approx(2 / 3, abs=1e-4), 1.0]


def test_mains_test_row_comes_from_the_test_split(idx_root, tmp_path):
    "main reporting another split's metrics or loss as the test's."
    results = helpers.main(
        idx_root,
        200,
        60,
        90,
        1,
        [16, 10],
        use_gpu="cpu",
        training_epochs=2,
        is_training=True,
        model_path=tmp_path / "model.pt",
        progress=False,
        show=False,
    )
    assert sum(map(sum, results["test"]["confusion_matrix"])) == 90
    assert sum(map(sum, results["valid"]["confusion_matrix"])) == 60
    test_set = helpers.loadDataset(idx_root, 200, 60, 90, 32, device="cpu", image_size=helpers.SETTINGS.image_size)[2]
    loss, accuracy, _ = helpers._evaluate(results["net"], test_set.x, test_set.y)
    assert results["test"]["loss"] == pytest.approx(loss, rel=1e-6) and results["test"]["accuracy"] == accuracy


def test_predict_image_normalises_as_the_training_data_were():
    "A user's image normalised differently from the data the network learnt from."
    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")
    net.preprocessing = helpers.Preprocessing(28, mean=0.4, std=0.2)  # far from the identity
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    expected = helpers.predict_proba(
        net, net.preprocessing(torch.as_tensor(helpers.image_to_mnist(digit), dtype=torch.float32)[None])
    )[0]
    row = helpers.predict_image(digit, net).iloc[0]
    assert [row[f"p{d}"] for d in range(10)] == pytest.approx(expected.tolist(), abs=1e-6)


def test_weight_decay_is_applied(tiny_loaders):
    "weight_decay silently ignored by the optimizer."
    train, valid, _ = tiny_loaders
    norms = []
    for weight_decay in (0.0, 0.5):
        torch.manual_seed(0)
        net = helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")
        helpers.train(
            net,
            train.x,
            train.y,
            valid.x,
            valid.y,
            3e-3,
            2,
            "cross_entropy",
            "adamw",
            batch_size=32,
            weight_decay=weight_decay,
            progress=False,
        )
        norms.append(net.fc1.weight.norm().item())
    assert norms[1] < 0.99 * norms[0]


def test_visualize_shows_the_mistakes_it_was_most_sure_of_first(tiny_loaders, monkeypatch):
    "The most confident mistakes sorted the wrong way round (or not at all)."
    _, _, test_set = tiny_loaders
    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")
    shown, draw = [], helpers._plot_predictions
    monkeypatch.setattr(
        helpers,
        "_plot_predictions",
        lambda x, y, predicted, probabilities, title, **options: (
            shown.append((predicted, probabilities, title)) or draw(x, y, predicted, probabilities, title)
        ),
    )
    wrong = (test_set.y + 1) % 10  # every prediction wrong: all 100 are mistakes
    helpers.visualize(None, None, net, test_set.x, test_set.y, wrong, n_samples=5, show=False)
    predicted, probabilities, title = shown[1]  # the sample grid first, then the mistakes
    confidence = probabilities[torch.arange(5), predicted].tolist()
    every = helpers.predict_proba(net, test_set.x)[torch.arange(100), wrong]
    assert "mistakes" in title and confidence == pytest.approx(every.sort(descending=True).values[:5].tolist())


def test_seed_everything_seeds_python_numpy_and_torch():
    "A generator left unseeded: the 'repeatable' run differs each time."
    import random

    draws = []
    for seed in (3, 3, 4):
        helpers.seed_everything(seed)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]
    assert all(a != b for a, b in zip(draws[0], draws[2]))


def test_evaluate_and_score_use_the_loss_they_are_given(name="multi_margin"):
    "The loss argument ignored: every split's loss reported as cross-entropy."
    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")
    x, y = torch.randn(50, 784), torch.arange(50) % 10
    expected = helpers._make_loss(name)(net(x), y).item()
    assert expected != pytest.approx(F.cross_entropy(net(x), y).item(), rel=1e-3)
    assert helpers._evaluate(net, x, y, name)[0] == pytest.approx(expected, rel=1e-5)
    assert helpers.score(net, x, y, name)["loss"] == pytest.approx(expected, rel=1e-5)


def test_every_exported_function_has_a_planted_bug_in_the_mutation_check():
    "A function added to the notebook without a mutant in scripts/mutation_check.py, which nothing then checks."
    import ast
    import sys

    sys.path.insert(0, str(helpers.NOTEBOOK.parent / "scripts"))
    from mutation_check import MUTANTS

    functions = {}
    for _, source in helpers.exported_cells():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                functions.setdefault(node.name, []).append(ast.get_source_segment(source, node))
    without = [
        name
        for name, bodies in functions.items()
        if not any(old in body for body in bodies for _, old, _, _ in MUTANTS)
    ]
    assert len(functions) > 50 and without == []
