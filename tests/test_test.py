"""Step 6: test predicts one digit per image, with the weights `model` names."""

import pytest
import torch

import helpers


@pytest.fixture
def saved(trained_tiny, tiny_loaders, tmp_path):
    net, _ = trained_tiny
    return net, helpers.save_network(net, tmp_path / "model.pt", preprocessing=tiny_loaders[0].preprocessing)


def test_none_uses_the_net_as_it_is(saved, tiny_loaders):
    net, _ = saved
    test = tiny_loaders[2]
    pred = helpers.test(net, None, test.x, test.y)
    assert pred.shape == (100,) and pred.dtype == torch.long
    assert torch.equal(pred, net(test.x).argmax(1))
    assert (pred == test.y).float().mean() >= 0.7  # a trained net; chance is 0.1


@pytest.mark.parametrize("form", ["path", "str"])
def test_model_weights_replace_the_nets(saved, tiny_loaders, form):
    trained, path = saved
    model = {"path": path, "str": str(path)}[form]
    untrained = helpers.init_network(**trained.config, device="cpu")
    test = tiny_loaders[2]
    assert torch.equal(helpers.test(untrained, model, test.x, test.y), helpers.test(trained, None, test.x, test.y))


def test_weights_that_do_not_fit(saved, tiny_loaders):
    _, path = saved
    other = helpers.init_network(1, 784, [16, 10], 0.0, device="cpu")
    with pytest.raises(ValueError, match="do not fit"):
        helpers.test(other, path, tiny_loaders[2].x, tiny_loaders[2].y)


def test_length_mismatch(saved, tiny_loaders):
    net, _ = saved
    with pytest.raises(ValueError, match="same length"):
        helpers.test(net, None, tiny_loaders[2].x, tiny_loaders[2].y[:5])


@pytest.mark.parametrize("model", [42, "state_dict", "module"])
def test_bad_model_argument(saved, tiny_loaders, model):
    "One way to name weights: a saved model's path (a state dict or a network is refused by name, not guessed at)."
    net, _ = saved
    model = {"state_dict": net.state_dict(), "module": net}.get(model, model)
    with pytest.raises(ValueError, match=r"model must be None \(net as it is\) or a saved model's path"):
        helpers.test(net, model, tiny_loaders[2].x)


def test_probabilities_in_chunks_match_one_pass_and_sum_to_one(saved, tiny_loaders):
    net, _ = saved
    x = tiny_loaders[2].x
    in_chunks, at_once = helpers._logits_of(net, x, chunk_size=7), helpers._logits_of(net, x, chunk_size=1000)
    assert in_chunks.shape == (len(x), 10)
    assert torch.allclose(in_chunks, at_once, atol=1e-5)  # the chunk size changes the GEMM blocking: a few ulps
    probabilities = helpers.predict_proba(net, x)
    assert torch.allclose(probabilities, torch.softmax(at_once, 1), atol=1e-6)
    assert torch.allclose(probabilities.sum(1), torch.ones(len(x)), atol=1e-5)
    assert helpers.predict_proba(net, x[:0]).shape == (0, 10)
