"""A new layer, defined here, outside cs109nn, and used in a model spec by name.

Two ways to write a layer, both registered with ``register_layer(name, factory)``:

1. a flax.linen Module — ``LearnedSigmoid``: the lecture's hidden unit h = σ(a·z) with a
   learned slope ``a`` per unit (a = 1 is the slides' sigmoid);
2. a pure ``(init, apply)`` pair, stax style — ``rbf``: Gaussian bumps around learned centres,
   φ_c(x) = exp(−‖x − μ_c‖²), so a line on φ(x) is a curve on x.

Once registered, the name works wherever a spec takes a layer: as the MLP's activation
(``mlp:16:learned_sigmoid``) or inside a layer list (``stack:rbf=16-dense=8-tanh``). Nothing in
cs109nn changes; a sweep that imports this file can name these specs.

    python experiments/custom_layer.py        # trains each spec on two moons, prints accuracy
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import make_moons

from cs109nn.models import Layer, model_from_spec, register_layer
from cs109nn.models.objectives import accuracy, loss


class LearnedSigmoid(nn.Module):
    """h = σ(a ⊙ z) for z: [n, H]; ``slope`` a: [H], starting at 1 (the lecture's σ)."""

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        slope = self.param("slope", nn.initializers.ones, (z.shape[-1],))
        return jax.nn.sigmoid(slope[None] * z)  # [1, H] ⊙ [n, H]: broadcast made explicit


def rbf(num_centres: int) -> Layer:
    """A pure layer x: [n, m] -> φ: [n, C] with φ_c(x) = exp(−‖x − μ_c‖²); μ: [C, m]."""

    def init(key: jax.Array, x_example: jax.Array) -> dict[str, jax.Array]:
        return {"centres": jax.random.normal(key, (num_centres, x_example.shape[-1]))}

    def apply(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
        sq_dist = jnp.sum(jnp.square(x[:, None, :] - params["centres"][None]), axis=-1)
        return jnp.exp(-sq_dist)

    return Layer(init, apply)


# The whole extension: two lines. Spec arguments (rbf=16) arrive as factory arguments.
register_layer("learned_sigmoid", LearnedSigmoid)
register_layer("rbf", rbf)

SPECS = ("mlp:16:learned_sigmoid", "stack:rbf=16-dense=8-tanh")


def two_moons(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x: [n, 2] float32, y: [n] int32 — two interleaved half circles no line separates."""
    x, y = make_moons(n_samples=n, noise=0.1, random_state=seed)
    return x.astype(np.float32), y.astype(np.int32)


def train(spec: str, x: np.ndarray, y: np.ndarray, steps: int = 300, seed: int = 0):
    """Adam on −mean LL, full batch, ``steps`` steps; returns (params, training accuracy)."""
    model = model_from_spec(spec)
    params = model.init(jax.random.key(seed), x[:1])
    optimizer = optax.adam(0.05)

    def step(carry, _):
        params, opt_state = carry
        grads = jax.grad(lambda p: loss(model.apply(p, x), y, model.output))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    run = jax.jit(lambda p: jax.lax.scan(step, (p, optimizer.init(p)), None, length=steps)[0][0])
    params = run(params)
    return params, float(accuracy(model.apply(params, x), y, model.output))


def main(steps: int = 300) -> dict[str, float]:
    """Train every spec of this file on two moons; ``{spec: training accuracy}``."""
    x, y = two_moons()
    return {spec: train(spec, x, y, steps)[1] for spec in SPECS}


if __name__ == "__main__":
    for spec, acc in main().items():
        print(f"{spec:32s} training accuracy {acc:.3f}")
