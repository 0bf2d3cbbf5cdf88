"""Step 7: metrics come from sklearn, and visualize draws (and can save) every figure."""

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

import helpers

matplotlib.use("Agg")


def test_report_metrics_on_a_known_case():
    y_true = torch.arange(10).repeat(2)  # every digit twice
    y_pred = y_true.clone()
    y_pred[0] = 1  # one 0 taken for a 1
    results = helpers._report_metrics(y_true, y_pred)
    assert results["accuracy"] == pytest.approx(19 / 20)
    assert results["confusion_matrix"][0] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert results["confusion_matrix"][1][1] == 2
    assert results["f1_per_class"][0] == pytest.approx(2 / 3)  # precision 1, recall 1/2
    assert results["f1_per_class"][1] == pytest.approx(0.8)  # precision 2/3, recall 1
    assert results["f1_macro"] == pytest.approx((2 / 3 + 0.8 + 8) / 10)
    assert "precision" in results["report"] and "recall" in results["report"]


@pytest.fixture
def trained(trained_tiny, tiny_loaders):
    net, history = trained_tiny
    return net, history["loss"], history["accuracy"], tiny_loaders[2]


def test_visualize_saves_every_figure_and_returns_the_metrics(trained, tmp_path, capsys):
    net, loss_array, accuracy_array, test = trained
    results = helpers.visualize(
        loss_array, accuracy_array, net, test.x, test.y, save_dir=tmp_path / "figures", show=False
    )
    names = sorted(path.name for path in (tmp_path / "figures").iterdir())
    expected = ["confusion_matrix.png", "curves.png", "f1.png", "samples.png"]
    predictions = helpers.test(net, None, test.x, test.y)
    if (predictions != test.y).any():
        expected.append("mistakes.png")
    assert names == sorted(expected)
    assert results["accuracy"] == pytest.approx((predictions == test.y).float().mean().item())
    printed = capsys.readouterr().out
    assert f"Test accuracy {results['accuracy']:.4f}" in printed and "macro avg" in printed
    assert not matplotlib.pyplot.get_fignums()  # show=False closes what it drew


def test_visualize_without_history_skips_the_curves(trained, tmp_path):
    net, _, _, test = trained
    helpers.visualize(None, None, net, test.x, test.y, save_dir=tmp_path, show=False)
    assert not (tmp_path / "curves.png").exists() and (tmp_path / "confusion_matrix.png").exists()


def test_mistakes_figure_shows_the_most_confident_wrong_predictions(monkeypatch):
    # a network whose logit k is pixel k: image i predicts digit i % 10 with a confidence that grows with i
    net = helpers.init_network(1, 784, [10, 10], 0.0, device="cpu")
    first, last = [layer for layer in net.modules() if isinstance(layer, torch.nn.Linear)]
    with torch.no_grad():
        for layer in (first, last):
            layer.weight.zero_(), layer.bias.zero_()
        first.weight[:, :10] = torch.eye(10)
        last.weight.copy_(torch.eye(10))
    x = torch.zeros(12, 784)
    x[torch.arange(12), torch.arange(12) % 10] = torch.arange(12, dtype=torch.float32) / 2
    y = torch.arange(12) % 10
    y[[2, 5, 9, 11]] = 0  # four mistakes (image 0 predicts 0: right)
    shown = {}
    monkeypatch.setattr(
        helpers,
        "_plot_predictions",
        lambda x, y_true, y_pred, probabilities, title, **_: (
            shown.setdefault(title.split()[0], (x, y_true, y_pred, probabilities)) and plt.figure()
        ),
    )
    helpers.visualize(None, None, net, x, y, n_samples=3, show=False)
    images, y_true, y_pred, probabilities = shown["The"]  # "The most confident of 4 mistakes"
    order = [11, 9, 5]  # the three most confident mistakes, most confident first
    assert torch.equal(images, x[order]) and y_true.tolist() == [0, 0, 0] and y_pred.tolist() == [1, 9, 5]
    assert probabilities[:, y_pred].diagonal().diff().le(0).all()


def test_prediction_titles_say_predicted_probability_and_truth_with_mistakes_in_red():
    y_true, y_pred = torch.tensor([3, 4, 5]), torch.tensor([3, 9, 5])
    probabilities = torch.full((3, 10), 0.05)
    probabilities[[0, 1, 2], y_pred] = torch.tensor([0.9, 0.6, 0.7])
    figure = helpers._plot_predictions(torch.zeros(3, 784), y_true, y_pred, probabilities, "three")
    titled = [axis for axis in figure.axes if axis.get_title()]
    assert [axis.get_title() for axis in titled] == ["3 (0.90) / 3", "9 (0.60) / 4", "5 (0.70) / 5"]
    assert [axis.title.get_color() for axis in titled] == ["black", "red", "black"]


def test_confusion_heatmap_annotates_the_counts():
    confusion = [[5 if i == j else 0 for j in range(10)] for i in range(10)]
    confusion[3][5] = 2
    figure = helpers._plot_confusion_matrix(confusion, 0.96)
    annotations = [text.get_text() for text in figure.axes[0].texts]
    assert annotations.count("5") == 10 and annotations.count("2") == 1
    assert "0.9600" in figure.axes[0].get_title()


@pytest.fixture(autouse=True)
def no_figures_left_open():
    yield
    plt.close("all")


def test_show_digits_titles_each_digit_with_its_own_title():
    figure = helpers.show_digits(torch.rand(3, 784), ["a", "b", "c"], columns=2)
    assert [axis.get_title() for axis in figure.axes] == ["a", "b", "c", ""]


def test_summary_has_one_row_per_split():
    results = {
        split: {"loss": loss, "accuracy": 0.5, "f1_macro": 0.4, "confusion_matrix": []}
        for split, loss in (("train", 0.1), ("valid", 0.2), ("test", 0.3))
    }
    table = helpers._summary(results)
    assert list(table.index) == ["train", "valid", "test"] and list(table.columns) == ["loss", "accuracy", "f1_macro"]
    assert table.loc["valid", "loss"] == 0.2


def test_curves_plot_each_split_its_own_history():
    loss_array, accuracy_array = {"train": [1.0, 0.5], "valid": [0.9, 0.7]}, {"train": [0.6, 0.8], "valid": [0.5, 0.6]}
    loss_axis, accuracy_axis = helpers._plot_curves(loss_array, accuracy_array).axes
    assert [list(line.get_ydata()) for line in loss_axis.lines] == [[1.0, 0.5], [0.9, 0.7]]
    assert [list(line.get_ydata()) for line in accuracy_axis.lines] == [[0.6, 0.8], [0.5, 0.6]]
    assert [text.get_text() for text in loss_axis.get_legend().get_texts()] == ["train", "valid"]


def test_the_confusion_heatmap_has_true_digits_as_rows():
    confusion = [[row * 10 + column for column in range(10)] for row in range(10)]
    axis = helpers._plot_confusion_matrix(confusion, 0.5).axes[0]
    assert [text.get_text() for text in axis.texts[:3]] == ["0", "1", "2"]  # the first row: true 0, predicted 0, 1, 2
    assert axis.get_ylabel() == "true digit" and axis.get_xlabel() == "predicted digit"


def test_the_f1_plot_marks_the_macro_average():
    f1_per_class = [0.9 + 0.01 * digit for digit in range(10)]
    axis = helpers._plot_f1(f1_per_class, 0.93, 0.95).axes[0]
    assert [bar.get_height() for bar in axis.patches] == pytest.approx(f1_per_class)
    macro = [line for line in axis.lines if line.get_label().startswith("macro F1")]
    assert [list(line.get_ydata()) for line in macro] == [[0.93, 0.93]]
