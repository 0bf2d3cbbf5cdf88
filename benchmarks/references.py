"""Peer references for the benchmark: one training epoch of exactly this project's work, written other ways.

The work: the fully connected net 784-100-50-10 (Linear -> ReLU -> inverted Dropout(p) for each hidden layer, raw
logits out), mean cross-entropy over the batch, Adam (lr as given, betas 0.9/0.999, eps 1e-8, no weight decay), a
fresh random permutation of the N rows every epoch, batches of B rows (the last one N % B rows where that is not 0),
starting from the same initial weights, given as (weight [out, in], bias [out]) float32 numpy arrays per layer
(PyTorch's nn.Linear layout). Each `epoch(x, y)` returns the epoch's mean training loss per sample, as the project's
_train_one_epoch does.

- TorchByHand: PyTorch without autograd: forward with torch.addmm, the backward pass written out by hand, dropout
  masks for the whole epoch drawn at its start, and torch.optim.Adam(fused=True) for the update. The hand-written
  floor for PyTorch on the CPU.
- JaxStep: JAX + optax, a jax.jit-compiled training step called from a Python loop over the batches.
- JaxScan: JAX + optax, the full batches of the epoch in one jitted function (jax.lax.scan), then the remainder batch
  with JaxStep's jitted step.

They are written once, to do exactly the project's work, and are not tuned afterwards: a comparison with them says
how the project's code stands against straightforward code of each kind, not against the fastest code possible.
JAX and optax are optional (benchmarks/requirements.txt); this module imports them only inside the JAX classes, so
it imports without them, and HAVE_JAX says whether they are installed.
"""

import importlib.util
import os
from functools import partial
from typing import NamedTuple

import numpy as np
import torch

HAVE_JAX = all(importlib.util.find_spec(name) is not None for name in ("jax", "optax"))
# JAX runs where torch's rows run: the CPU, unless the caller says otherwise (scripts/gpu_check.py: cuda), and it does
# not take three quarters of a GPU's memory at start-up
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def check_arguments(initial_weights, dropout, batch_size):
    "Raise ValueError unless the layers chain, 0 <= dropout < 1 and batch_size >= 1."
    for (weight, bias), (next_weight, _) in zip(initial_weights, initial_weights[1:]):
        if bias.shape != weight.shape[:1] or next_weight.shape[1] != weight.shape[0]:
            raise ValueError("initial_weights must be (weight [out, in], bias [out]) pairs of chaining layers")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")


# ---------------------------------------------------------------- PyTorch, no autograd


def cross_entropy_and_logit_grad(logits, labels):
    "Mean cross-entropy over the batch, and its gradient with respect to the logits: (softmax - onehot) / B."
    log_probs = torch.log_softmax(logits, dim=1)
    loss = -log_probs.gather(1, labels[:, None]).mean()
    grad = log_probs.exp_()
    grad -= torch.nn.functional.one_hot(labels, logits.shape[1])
    return loss, grad.div_(len(labels))


class TorchByHand:
    "One epoch in PyTorch with the backward pass written by hand and fused Adam; no autograd anywhere (CPU)."

    def __init__(self, initial_weights, dropout, learning_rate, batch_size, seed=0):
        check_arguments(initial_weights, dropout, batch_size)
        self.dropout, self.batch_size = dropout, batch_size
        self.layers = [
            (torch.tensor(w, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)) for w, b in initial_weights
        ]
        self.params = [p for layer in self.layers for p in layer]  # [weight 1, bias 1, weight 2, ...]
        self.optimizer = torch.optim.Adam(
            self.params, lr=learning_rate, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, fused=True
        )
        self.generator = torch.Generator().manual_seed(seed)

    def dropout_masks(self, n):
        "Inverted-dropout masks for all n rows (in permutation order), one per hidden layer: 0 or 1 / (1 - p)."
        return [
            (torch.rand(n, w.shape[0], generator=self.generator) >= self.dropout).float() / (1.0 - self.dropout)
            for w, _ in self.layers[:-1]
        ]

    def forward(self, xb, masks):
        "Every layer's input (x, then each hidden layer's output after ReLU and dropout), and the logits."
        inputs = [xb]
        for (weight, bias), mask in zip(self.layers[:-1], masks):
            inputs.append(torch.addmm(bias, inputs[-1], weight.t()).relu_().mul_(mask))
        weight, bias = self.layers[-1]
        return inputs, torch.addmm(bias, inputs[-1], weight.t())

    def backward(self, inputs, masks, grad_logits):
        "[weight grad, bias grad] per layer, back-propagated by hand from the logits' gradient."
        grads, grad_out = [], grad_logits
        for i in reversed(range(len(self.layers))):
            grads = [grad_out.t() @ inputs[i], grad_out.sum(0)] + grads
            if i > 0:  # through the hidden layer's dropout and ReLU (its output inputs[i] > 0 where both let it by)
                grad_out = torch.where(inputs[i] > 0, (grad_out @ self.layers[i][0]) * masks[i - 1], 0.0)
        return grads

    def step(self, xb, yb, masks):
        "One Adam step on the batch with the hand-computed gradients; returns the batch's mean loss (a tensor)."
        inputs, logits = self.forward(xb, masks)
        loss, grad_logits = cross_entropy_and_logit_grad(logits, yb)
        for param, grad in zip(self.params, self.backward(inputs, masks, grad_logits)):
            param.grad = grad
        self.optimizer.step()
        return loss

    @torch.no_grad()
    def epoch(self, x, y):
        "One epoch over x [N, 784] float32 and y [N] int64 (torch tensors); returns the mean training loss."
        n = len(x)
        order = torch.randperm(n, generator=self.generator)
        masks = self.dropout_masks(n)
        loss_sum = torch.zeros(())
        for start in range(0, n, self.batch_size):
            rows = order[start : start + self.batch_size]
            batch_masks = [mask[start : start + self.batch_size] for mask in masks]
            loss_sum += self.step(x[rows], y[rows], batch_masks) * len(rows)
        return loss_sum.item() / n


# ---------------------------------------------------------------- JAX + optax


class TrainState(NamedTuple):
    "What a JAX training step carries from batch to batch (a pytree)."

    params: list  # [(weight [out, in], bias [out]), ...]
    opt_state: object  # optax.adam's state
    key: object  # jax.random key, split once per step
    loss_sum: object  # the epoch's loss summed over its samples so far


def jax_logits(params, x, key, dropout):
    "The MLP's logits for x, with inverted dropout (jax.random.bernoulli) after each hidden ReLU."
    import jax
    import jax.numpy as jnp

    hidden_keys = jax.random.split(key, len(params) - 1)
    h = x
    for (weight, bias), hidden_key in zip(params[:-1], hidden_keys):
        h = jax.nn.relu(h @ weight.T + bias)
        keep = jax.random.bernoulli(hidden_key, 1.0 - dropout, h.shape)
        h = jnp.where(keep, h / (1.0 - dropout), 0.0)
    weight, bias = params[-1]
    return h @ weight.T + bias


def jax_loss(params, key, xb, yb, dropout):
    "Mean cross-entropy of the batch (optax.softmax_cross_entropy_with_integer_labels)."
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(jax_logits(params, xb, key, dropout), yb).mean()


def jax_step(optimizer, dropout, state, xb, yb):
    "One Adam step on the batch (xb, yb); the state's loss sum grows by the batch's mean loss times its size."
    import jax
    import optax

    key, dropout_key = jax.random.split(state.key)
    loss, grads = jax.value_and_grad(jax_loss)(state.params, dropout_key, xb, yb, dropout)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return TrainState(params, opt_state, key, state.loss_sum + loss * xb.shape[0])


def jax_gathered_step(optimizer, dropout, state, x, y, rows):
    "jax_step on the batch of rows `rows` of x and y (gathered inside the compiled step)."
    return jax_step(optimizer, dropout, state, x[rows], y[rows])


def jax_scanned_epoch(optimizer, dropout, batch_size, state, x, y):
    "Shuffle, then one step per full batch in a lax.scan; returns the new state and the remainder batch's rows."
    import jax

    key, permutation_key = jax.random.split(state.key)
    order = jax.random.permutation(permutation_key, x.shape[0])
    steps = x.shape[0] // batch_size
    rows = order[: steps * batch_size].reshape(steps, batch_size)

    def body(carry, batch):
        return jax_step(optimizer, dropout, carry, *batch), None

    state, _ = jax.lax.scan(body, state._replace(key=key), (x[rows], y[rows]))  # x[rows]: [steps, B, 784]
    return state, order[steps * batch_size :]


class JaxReference:
    "What JaxStep and JaxScan share: parameters, Adam state and key, the jitted step, the data kept on the device."

    def __init__(self, initial_weights, dropout, learning_rate, batch_size, seed=0):
        import jax
        import jax.numpy as jnp
        import optax

        check_arguments(initial_weights, dropout, batch_size)
        self.dropout, self.batch_size = dropout, batch_size
        self.optimizer = optax.adam(learning_rate)  # b1 0.9, b2 0.999, eps 1e-8, as torch.optim.Adam
        params = [(jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32)) for w, b in initial_weights]
        self.state = TrainState(params, self.optimizer.init(params), jax.random.key(seed), jnp.zeros(()))
        self.jitted_step = jax.jit(partial(jax_gathered_step, self.optimizer, dropout))
        self.cached = None  # (x, y as given, x, y as JAX arrays)

    def on_device(self, x, y):
        "x and y as JAX arrays (float32, int32): converted on the first call with these arrays, reused after."
        import jax.numpy as jnp

        if self.cached is None or self.cached[0] is not x or self.cached[1] is not y:
            self.cached = (x, y, jnp.asarray(x, jnp.float32), jnp.asarray(np.asarray(y), jnp.int32))
        return self.cached[2:]

    def start_epoch(self):
        "Zero the state's loss sum."
        import jax.numpy as jnp

        self.state = self.state._replace(loss_sum=jnp.zeros(()))

    def finish_epoch(self, n):
        "Wait for the epoch's last computation; return its mean loss per sample."
        import jax

        jax.block_until_ready(self.state)
        return float(self.state.loss_sum) / n


class JaxStep(JaxReference):
    "One epoch in JAX + optax: a Python loop over the batches, each one step compiled with jax.jit."

    def __init__(self, initial_weights, dropout, learning_rate, batch_size, seed=0):
        super().__init__(initial_weights, dropout, learning_rate, batch_size, seed)
        self.rng = np.random.default_rng(seed)  # the permutation, drawn on the host

    def epoch(self, x, y):
        "One epoch over x [N, 784] float32 and y [N] int64 (numpy arrays); returns the mean training loss."
        x_device, y_device = self.on_device(x, y)
        order = self.rng.permutation(len(x)).astype(np.int32)
        self.start_epoch()
        for start in range(0, len(x), self.batch_size):
            self.state = self.jitted_step(self.state, x_device, y_device, order[start : start + self.batch_size])
        return self.finish_epoch(len(x))


class JaxScan(JaxReference):
    "One epoch in JAX + optax: the full batches in one jitted lax.scan, the remainder with JaxStep's jitted step."

    def __init__(self, initial_weights, dropout, learning_rate, batch_size, seed=0):
        import jax

        super().__init__(initial_weights, dropout, learning_rate, batch_size, seed)
        self.jitted_epoch = jax.jit(partial(jax_scanned_epoch, self.optimizer, dropout, batch_size))

    def epoch(self, x, y):
        "One epoch over x [N, 784] float32 and y [N] int64 (numpy arrays); returns the mean training loss."
        x_device, y_device = self.on_device(x, y)
        self.start_epoch()
        self.state, remainder = self.jitted_epoch(self.state, x_device, y_device)
        if len(x) % self.batch_size:
            self.state = self.jitted_step(self.state, x_device, y_device, remainder)
        return self.finish_epoch(len(x))
