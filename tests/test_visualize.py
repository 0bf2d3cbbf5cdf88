"""Step 7: metrics come from sklearn, and visualize draws (and can save) every figure."""
import matplotlib
import pytest
import torch

import helpers

matplotlib.use("Agg")


def test_report_metrics_on_a_known_case():
    y_true = torch.arange(10).repeat(2)               # every digit twice
    y_pred = y_true.clone()
    y_pred[0] = 1                                      # one 0 taken for a 1
    results = helpers.report_metrics(y_true, y_pred)
    assert results["accuracy"] == pytest.approx(19 / 20)
    assert results["confusion_matrix"][0] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert results["confusion_matrix"][1][1] == 2
    assert results["f1_per_class"][0] == pytest.approx(2 / 3)       # precision 1, recall 1/2
    assert results["f1_per_class"][1] == pytest.approx(0.8)         # precision 2/3, recall 1
    assert results["f1_macro"] == pytest.approx((2 / 3 + 0.8 + 8) / 10)
    assert "precision" in results["report"] and "recall" in results["report"]


@pytest.fixture
def trained(tiny_loaders):
    train, valid, test = tiny_loaders
    torch.manual_seed(0)
    net = helpers.init_network(1, 784, [32, 10], 0.0, device="cpu")
    net, loss_array, accuracy_array = helpers.train(net, train.x, train.y, valid.x, valid.y, 3e-3, 2,
                                                     "cross_entropy", "adam", batch_size=32, progress=False)
    return net, loss_array, accuracy_array, test


def test_visualize_saves_every_figure_and_returns_the_metrics(trained, tmp_path, capsys):
    net, loss_array, accuracy_array, test = trained
    results = helpers.visualize(loss_array, accuracy_array, net, test.x, test.y, save_dir=tmp_path / "figures",
                                show=False)
    names = sorted(path.name for path in (tmp_path / "figures").iterdir())
    expected = ["confusion_matrix.png", "curves.png", "f1.png", "samples.png"]
    predictions = helpers.test(net, None, test.x, test.y)
    if (predictions != test.y).any():
        expected.append("mistakes.png")
    assert names == sorted(expected)
    assert results["accuracy"] == pytest.approx((predictions == test.y).float().mean().item())
    printed = capsys.readouterr().out
    assert f"Test accuracy {results['accuracy']:.4f}" in printed and "macro avg" in printed
    assert not matplotlib.pyplot.get_fignums()   # show=False closes what it drew


def test_visualize_without_history_skips_the_curves(trained, tmp_path):
    net, _, _, test = trained
    helpers.visualize(None, None, net, test.x, test.y, save_dir=tmp_path, show=False)
    assert not (tmp_path / "curves.png").exists() and (tmp_path / "confusion_matrix.png").exists()


def test_mistakes_figure_shows_the_most_confident_wrong_predictions(trained):
    net, _, _, test = trained
    figure = helpers.plot_predictions(test.x[:4], test.y[:4], (test.y[:4] + 1) % 10,
                                      torch.full((4, 10), 0.1), "four wrong")
    titles = [axis.get_title() for axis in figure.axes if axis.get_title()]
    colors = [axis.title.get_color() for axis in figure.axes if axis.get_title()]
    assert len(titles) == 4 and set(colors) == {"red"}
    assert titles[0] == f"{(int(test.y[0]) + 1) % 10} (0.10) / {int(test.y[0])}"


def test_confusion_heatmap_annotates_the_counts():
    confusion = [[5 if i == j else 0 for j in range(10)] for i in range(10)]
    confusion[3][5] = 2
    figure = helpers.plot_confusion_matrix(confusion, 0.96)
    annotations = [text.get_text() for text in figure.axes[0].texts]
    assert annotations.count("5") == 10 and annotations.count("2") == 1
    assert "0.9600" in figure.axes[0].get_title()
