"""Step 9: experiments over seeds, their spreads, and verdicts that say 'better' only beyond the noise."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch
from matplotlib.container import BarContainer

import helpers


def runs_table(accuracies):
    "Runs as run_experiments makes them: {(factor, value): [valid acc per seed]}."
    rows = [
        {
            "factor": factor,
            "value": value,
            "seed": seed,
            "train acc": 1.0,
            "valid acc": accuracy,
            "valid macro F1": accuracy,
            "seconds": 1.0 + seed,
        }
        for (factor, value), values in accuracies.items()
        for seed, accuracy in enumerate(values)
    ]
    return pd.DataFrame(rows)


def test_spread_table_gives_mean_and_spread_per_configuration():
    table = helpers.spread_table(
        runs_table({("baseline", "defaults"): [0.90, 0.92, 0.94], ("dropout", "0.5"): [0.80, 0.80, 0.80]})
    )
    assert table.loc[("baseline", "defaults"), ("valid acc", "mean")] == pytest.approx(0.92)
    assert table.loc[("baseline", "defaults"), ("valid acc", "std")] == pytest.approx(0.02)  # sample std
    assert table.loc[("dropout", "0.5"), ("seconds", "mean")] == pytest.approx(2.0)
    assert list(table["verdict"]) == ["baseline", "worse"]


@pytest.mark.parametrize(
    "values, verdict",
    [
        ([0.950, 0.951, 0.949], "better"),  # +0.03: far beyond both spreads
        ([0.925, 0.926, 0.924], "within noise"),  # +0.005: inside the baseline's spread of 0.01
        ([0.911, 0.912, 0.910], "within noise"),  # -0.009: still inside the spreads together (0.011)
        ([0.890, 0.891, 0.889], "worse"),
    ],
)
def test_better_or_worse_only_beyond_the_spreads(values, verdict):
    table = helpers.spread_table(runs_table({("baseline", ""): [0.91, 0.92, 0.93], ("factor", "x"): values}))
    assert table["verdict"].loc[("factor", "x")] == verdict


def test_show_spread_prints_mean_plus_minus_std():
    shown = helpers.show_spread(helpers.spread_table(runs_table({("baseline", "d"): [0.90, 0.92, 0.94]})))
    assert "0.9200 ± 0.0200" in shown and "baseline" in shown


def test_input_size_verdict_keeps_28_when_it_ties_and_names_the_worse_sizes():
    table = helpers.spread_table(
        runs_table(
            {
                ("baseline", "defaults"): [0.960, 0.962, 0.964],
                ("input size", "14"): [0.940, 0.941, 0.942],
                ("input size", "32"): [0.961, 0.963, 0.965],
            }
        )
    )
    verdict = helpers.spread_findings(table, 28)["input size"]
    assert verdict.startswith(
        "Input size: sizes [28, 32] are within noise of the best (32), [14] fall short of it beyond the noise"
    )
    assert "28x28 is kept" in verdict


def test_input_size_verdict_picks_a_size_that_beats_28():
    table = helpers.spread_table(
        runs_table({("baseline", "defaults"): [0.940, 0.941, 0.942], ("input size", "20"): [0.960, 0.961, 0.962]})
    )
    verdict = helpers.spread_findings(table, 28)["input size"]
    assert (
        "[28] fall short of it beyond the noise" in verdict
        and "20x20 is the screen's candidate; main() keeps 28x28" in verdict
    )


def test_spread_findings_lists_each_verdict_and_splits_the_better_by_training_time():
    runs = runs_table(
        {
            ("baseline", "defaults"): [0.90, 0.90, 0.90],
            ("widths", "wide"): [0.95, 0.95, 0.95],
            ("dropout", "0"): [0.96, 0.96, 0.96],
            ("dropout", "0.4"): [0.85, 0.85, 0.85],
            ("batch", "32"): [0.90, 0.90, 0.90],
        }
    )
    runs.loc[runs["value"] == "wide", "seconds"] = 2.0 * 1.3  # 30% slower than the baseline's mean of 2 s
    runs.loc[runs["value"] == "0", "seconds"] = 2.0 * 1.2  # 20% slower: still within main()'s budget
    findings = helpers.spread_findings(helpers.spread_table(runs), 28)
    assert findings["better"] == ["widths wide", "dropout 0"] and findings["worse"] == ["dropout 0.4"]
    assert findings["within noise"] == ["batch 32"]
    assert findings["candidates"] == ["dropout 0"] and findings["too slow"] == ["widths wide"]
    assert findings["input size"] is None  # no other input size tried


def test_describe_labels_changes():
    assert helpers._describe({}) == "main's defaults"
    assert helpers._describe({"no_of_layers": 1, "neurons_per_layer": [512, 10]}) == "1, 512"
    assert helpers._describe({"learning_rate": 3 * 0.003}) == "0.009"


def test_run_experiments_trains_every_configuration_with_every_seed(idx_root):
    baseline = helpers.SETTINGS.replace(
        dataset_path=str(idx_root),
        train_size=200,
        val_size=50,
        test_size=50,
        neurons_per_layer=[16, 8, 10],
        training_epochs=2,
        batch_size=32,
        use_gpu="cpu",
    )
    runs = helpers.run_experiments(
        [("baseline", {}), ("epochs", {"training_epochs": 1})], baseline, seeds=(0, 1), device="cpu"
    )
    assert list(runs["factor"]) == ["baseline"] * 2 + ["epochs"] * 2 and list(runs["seed"]) == [0, 1, 0, 1]
    # each configuration's rows are that configuration's runs: its changes are applied
    alone = pd.DataFrame(helpers._seeded_runs(baseline.replace(training_epochs=1), (0, 1), device="cpu"))
    for column in ("train acc", "valid acc"):
        assert list(runs[column][2:]) == list(alone[column])
        assert list(runs[column][:2]) != list(alone[column])
    assert runs.loc[0, "valid acc"] != runs.loc[1, "valid acc"] or runs.loc[0, "train acc"] != runs.loc[1, "train acc"]
    assert runs["valid acc"].between(0, 1).all() and (runs["seconds"] > 0).all()


def tiny_settings(idx_root, **changes):
    return helpers.SETTINGS.replace(
        dataset_path=str(idx_root),
        train_size=200,
        val_size=50,
        test_size=50,
        neurons_per_layer=[16, 8, 10],
        training_epochs=2,
        batch_size=32,
        use_gpu="cpu",
        **changes,
    )


def test_seeds_trained_together_match_each_seed_trained_alone(idx_root):
    settings = tiny_settings(idx_root)
    loaders = helpers.load_data(settings, "cpu")
    assert helpers._stack_pays(helpers.init_network(2, 784, [16, 8, 10], 0.1, device="cpu"), settings.batch_size, 3)
    together = helpers._seeded_runs(settings, (0, 1, 2), device="cpu")
    for seed, row in zip((0, 1, 2), together):
        net, _, seconds, _ = helpers.train_new_networks(settings.replace(seed=seed), loaders, [seed], False)[0]
        alone = helpers._experiment_row(net, seconds, loaders)
        assert row["seed"] == seed  # within a digit: float rounding differs in a stack
        assert row["train acc"] == pytest.approx(alone["train acc"], abs=1.5 / 200)
        assert row["valid acc"] == pytest.approx(alone["valid acc"], abs=1.5 / 50)
    stacked = helpers.train_new_networks(settings, loaders, [0, 1, 2], progress=False)
    for seed, (net, _, _, _) in zip((0, 1, 2), stacked):
        alone, _, _, _ = helpers.train_new_networks(settings.replace(seed=seed), loaders, [seed], False)[0]
        for stacked_param, alone_param in zip(net.parameters(), alone.parameters()):
            torch.testing.assert_close(stacked_param, alone_param, rtol=1e-4, atol=1e-5)


def test_load_data_uses_the_settings_input_size(idx_root):
    train, valid, test = helpers.load_data(tiny_settings(idx_root, image_size=14), "cpu")
    assert train.x.shape == (200, 14 * 14) and valid.x.shape == (50, 196) and test.x.shape == (50, 196)


def test_an_experiment_row_measures_each_accuracy_on_its_own_split(idx_root):
    settings = tiny_settings(idx_root)
    loaders = helpers.load_data(settings, "cpu")
    net, _, seconds, _ = helpers.train_new_networks(settings, loaders, [settings.seed], False)[0]
    row = helpers._experiment_row(net, seconds, loaders)
    assert row["train acc"] == helpers._evaluate(net, loaders[0].x, loaders[0].y)[1]
    assert row["valid acc"] == helpers._evaluate(net, loaders[1].x, loaders[1].y)[1]
    assert row["seconds"] > 0


def test_plot_spread_draws_each_spread_as_an_error_bar():
    table = helpers.spread_table(
        runs_table(
            {
                ("baseline", "d"): [0.90, 0.92, 0.94],
                ("dropout", "0.5"): [0.80, 0.81, 0.82],
                ("dropout", "0.2"): [0.91, 0.91, 0.91],
            }
        )
    )
    figure = helpers.plot_spread(table)
    bars = next(container for container in figure.axes[0].containers if isinstance(container, BarContainer))
    labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    plt.close(figure)
    assert labels == ["d", "0.5", "0.2"]  # the baseline's bar is labelled with its own value
    assert [bar.get_height() for bar in bars] == pytest.approx([0.92, 0.81, 0.91])
    segments = bars.errorbar.lines[2][0].get_segments()
    half_heights = [(segment[1][1] - segment[0][1]) / 2 for segment in segments]
    assert half_heights == pytest.approx([0.02, 0.01, 0.0], abs=1e-9)


def test_input_size_verdict_keeps_a_default_of_20_that_ties_and_says_why():
    table = helpers.spread_table(
        runs_table({("baseline", "defaults"): [0.960, 0.962, 0.964], ("input size", "28"): [0.962, 0.963, 0.964]})
    )
    verdict = helpers.spread_findings(table, 20)["input size"]
    assert verdict.startswith("Input size: sizes [20, 28] are within noise of the best (28)")
    assert "20x20 is kept: no size beats it beyond the noise, and it feeds the first layer 400 inputs" in verdict


def test_input_size_verdict_claims_no_saving_for_a_larger_default():
    table = helpers.spread_table(
        runs_table({("baseline", "defaults"): [0.960, 0.962, 0.964], ("input size", "28"): [0.960, 0.961, 0.962]})
    )
    verdict = helpers.spread_findings(table, 32)["input size"]
    assert (
        "32x32 is kept: no size beats it beyond the noise, and it feeds the first layer 1024 inputs instead of 784."
    ) in verdict


def test_each_seed_draws_its_own_initial_weights(idx_root):
    "A seed's network starts from the weights init_network draws after seed_everything(seed), not from another's."
    settings, x = tiny_settings(idx_root), torch.zeros(1, 784)
    nets = [helpers._new_network(settings, x, seed) for seed in (0, 1, 0)]
    helpers.seed_everything(1)
    expected = helpers.init_network(settings.no_of_layers, 784, settings.neurons_per_layer, settings.dropout, "cpu")
    weights = [torch.cat([param.flatten() for param in net.parameters()]) for net in (*nets, expected)]
    assert torch.equal(weights[1], weights[3]) and torch.equal(weights[0], weights[2])
    assert not torch.equal(weights[0], weights[1])


def test_the_floors_come_from_the_committed_runs_table(tmp_path):
    "scripts/experiment_floors.py reads show_spread's table back and lowers each mean by its margin."
    import json
    import sys

    sys.path.insert(0, str(helpers.NOTEBOOK.parent / "scripts"))
    import experiment_floors

    table = helpers.spread_table(
        runs_table(
            {("baseline", "main's defaults"): [0.950, 0.952, 0.954], ("hidden layers", "1, 512"): [0.9, 0.9, 0.9]}
        )
    )
    cell = {
        "cell_type": "code",
        "source": "print(show_spread(spread))",
        "outputs": [{"text": helpers.show_spread(table)}],
    }
    (tmp_path / "run.ipynb").write_text(json.dumps({"cells": [cell]}))
    rows = list(experiment_floors.spread_rows(tmp_path / "run.ipynb"))
    assert rows == [("baseline", "main's defaults", 0.952, 0.002), ("hidden layers", "1, 512", 0.9, 0.0)]
    assert experiment_floors.floor(0.952, 0.002) == 0.946  # 0.002 + 3 * 0.002 / sqrt(3) = 0.00546 > 0.005
    assert experiment_floors.floor(0.9, 0.0) == 0.895  # at least half a point
