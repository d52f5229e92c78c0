"""Members-major Dense layers (``x @ W`` computed as ``(Wᵀ xᵀ)ᵀ``): the same numbers as plain
float64 numpy ``x @ W + b`` and as flax's default ``nn.Dense``, alone and vmapped over members,
forward and gradient; and the package's models, whose Dense layers all use it, still give the
per-example gradients of the slides' closed form through the Dense taps."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs109nn.grads import dense_taps, per_example_gradients
from cs109nn.models import model_from_spec
from cs109nn.models.members_major import members_major_dense, members_major_dot

TOL = 1e-6  # absolute and relative: float32 sums of a few dozen O(1) products vs float64


def assert_close(got, want) -> None:
    np.testing.assert_allclose(np.float64(got), np.float64(want), atol=TOL, rtol=TOL)


def as64(tree):
    return jax.tree.map(lambda a: np.asarray(a, np.float64), tree)


def dense_problem(members: tuple[int, ...] = (), n: int = 13, d_in: int = 7, d_out: int = 5):
    """x [n, d_in] shared by the members; kernel [*members, d_in, d_out], bias [*members, d_out];
    a cotangent c [*members, n, d_out] for the scalar L = Σ c ⊙ (x W + b)."""
    rng = np.random.default_rng(len(members) + n)
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    kernel = rng.normal(scale=0.5, size=(*members, d_in, d_out)).astype(np.float32)
    bias = rng.normal(size=(*members, d_out)).astype(np.float32)
    c = rng.normal(size=(*members, n, d_out)).astype(np.float32)
    return x, {"kernel": kernel, "bias": bias}, c


def numpy_dense(x: np.ndarray, p: dict) -> np.ndarray:
    """The reference forward in float64: x @ W + b (members, if any, first)."""
    x, kernel, bias = np.float64(x), np.float64(p["kernel"]), np.float64(p["bias"])
    return x @ kernel + bias[..., None, :]


def numpy_dense_gradients(x: np.ndarray, p: dict, c: np.ndarray) -> tuple[dict, np.ndarray]:
    """∂/∂(W, b, x) of L = Σ c ⊙ (x W + b) in float64: (xᵀc, Σₙ c), c Wᵀ (per member)."""
    x, kernel, c = np.float64(x), np.float64(p["kernel"]), np.float64(c)
    params = {"kernel": np.swapaxes(x, -1, -2) @ c, "bias": c.sum(axis=-2)}
    return params, c @ np.swapaxes(kernel, -1, -2)


MEMBERS_MAJOR = members_major_dense(5)
FLAX_DEFAULT = nn.Dense(5)


def apply_layer(layer: nn.Module):
    """(params {kernel, bias}, x) -> layer output, params as the layer's own."""
    return lambda p, x: layer.apply({"params": p}, x)


def value_and_gradients(layer: nn.Module, vmapped: bool):
    """Jitted (out, ∂L/∂params, ∂L/∂x) for L = Σ c ⊙ layer(x); vmapped: over member params."""
    apply = apply_layer(layer)

    def one(p, x, c):
        out, pullback = jax.vjp(apply, p, x)
        grads, grad_x = pullback(c)
        # and the same through jax.grad of the scalar, the route training takes
        grads_of_sum = jax.grad(lambda q: jnp.sum(c * apply(q, x)))(p)
        return out, grads, grad_x, grads_of_sum

    return jax.jit(jax.vmap(one, in_axes=(0, None, 0)) if vmapped else one)


@pytest.mark.parametrize("members", [(), (6,)], ids=["single", "vmapped-6"])
def test_members_major_dense_matches_numpy_and_flax_default(members):
    x, params, c = dense_problem(members)
    vmapped = bool(members)
    out, grads, grad_x, grads_of_sum = value_and_gradients(MEMBERS_MAJOR, vmapped)(params, x, c)
    ref_grads, ref_grad_x = numpy_dense_gradients(x, params, c)
    assert_close(out, numpy_dense(x, params))
    for got in (grads, grads_of_sum):
        for name in ("kernel", "bias"):
            assert_close(got[name], ref_grads[name])
    # the members' input gradients, summed: x is shared, so its gradient adds over members
    assert_close(grad_x, ref_grad_x)

    flax_out, flax_grads, flax_grad_x, _ = value_and_gradients(FLAX_DEFAULT, vmapped)(params, x, c)
    assert_close(out, np.float64(flax_out))
    assert_close(grad_x, np.float64(flax_grad_x))
    for name in ("kernel", "bias"):
        assert_close(grads[name], np.float64(flax_grads[name]))


def test_members_major_dense_has_flax_default_params():
    x = np.zeros((3, 7), np.float32)
    ours = jax.eval_shape(lambda: MEMBERS_MAJOR.init(jax.random.key(0), x))
    theirs = jax.eval_shape(lambda: FLAX_DEFAULT.init(jax.random.key(0), x))
    assert jax.tree.map(lambda s: s.shape, ours) == jax.tree.map(lambda s: s.shape, theirs)
    assert ours["params"]["kernel"].shape == (7, 5) and ours["params"]["bias"].shape == (5,)
    # the same initial values for the same key: only the product's order changes
    ours, theirs = MEMBERS_MAJOR.init(jax.random.key(3), x), FLAX_DEFAULT.init(jax.random.key(3), x)
    jax.tree.map(np.testing.assert_array_equal, ours, theirs)
    assert type(MEMBERS_MAJOR) is nn.Dense  # exactly nn.Dense: the gradient taps see it


def test_members_major_dot_other_ranks_are_plain_dot_general():
    """A Dense on [n, s, d] inputs (3-D lhs) and a batched dot_general fall back unchanged."""
    rng = np.random.default_rng(5)
    lhs = rng.normal(size=(4, 3, 6)).astype(np.float32)
    rhs = rng.normal(size=(6, 2)).astype(np.float32)
    got = jax.jit(lambda a, b: members_major_dot(a, b, (((2,), (0,)), ((), ()))))(lhs, rhs)
    assert_close(got, np.float64(lhs) @ np.float64(rhs))
    batched_rhs = rng.normal(size=(4, 6, 2)).astype(np.float32)
    got = jax.jit(lambda a, b: members_major_dot(a, b, (((2,), (1,)), ((0,), (0,)))))(
        lhs, batched_rhs
    )
    assert_close(got, np.float64(lhs) @ np.float64(batched_rhs))
    # 2-D with a contraction other than [n, in]·[in, out]: lhsᵀ-style dims are honoured
    a = rng.normal(size=(6, 4)).astype(np.float32)
    got = jax.jit(lambda a, b: members_major_dot(a, b, (((0,), (0,)), ((), ()))))(a, rhs)
    assert_close(got, np.float64(a).T @ np.float64(rhs))


# --- the package's models ------------------------------------------------------------------


def numpy_forward(spec: str, params: dict, x: np.ndarray) -> np.ndarray:
    """Logits of an MLP / stack of Dense layers in float64 from its params (layer names in
    order, then ``output``); activations by the spec."""
    acts = {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: z * (z > 0),
    }
    p = as64(params["params"])
    h = np.float64(x).reshape(x.shape[0], -1)
    if spec.startswith(("mlp", "softmax-mlp")):
        act = acts[spec.split(":")[2]]
        hidden = [(name, act) for name in sorted(k for k in p if k.startswith("hidden_"))]
    else:  # stack:dense=8-relu-dense=4-tanh
        tokens = spec.split(":")[1].split("-")
        hidden = [(f"dense_{i}", acts[tokens[i + 1]]) for i in range(0, len(tokens), 2)]
    for name, act in hidden:
        h = act(h @ p[name]["kernel"] + p[name]["bias"])
    logits = h @ p["output"]["kernel"] + p["output"]["bias"]
    return logits[:, 0] if logits.shape[1] == 1 else logits


MODEL_SPECS = {
    "mlp:16x8:sigmoid": 2,
    "softmax-mlp:12:tanh": 4,
    "stack:dense=8-relu-dense=4-tanh": 2,
}


@pytest.mark.parametrize("spec", list(MODEL_SPECS))
def test_models_match_numpy_single_and_vmapped(spec):
    model = model_from_spec(spec, num_classes=MODEL_SPECS[spec])
    rng = np.random.default_rng(2)
    x = rng.normal(size=(11, 9)).astype(np.float32)
    members = 3
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x[:1]))
    params = jax.tree.map(
        lambda s: rng.normal(scale=0.5, size=(members, *s.shape)).astype(np.float32), shapes
    )
    vmapped = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))(params, x)
    single = jax.jit(model.apply)(jax.tree.map(lambda a: a[1], params), x)
    for m in range(members):
        ref = numpy_forward(spec, jax.tree.map(lambda a, m=m: a[m], params), x)
        assert_close(vmapped[m], ref)
    ref = numpy_forward(spec, jax.tree.map(lambda a: a[1], params), x)
    assert_close(single, ref)


def test_model_dense_layers_are_members_major():
    """Every hidden Dense and the binary head of the package's MLPs go through the dot."""
    seen = []

    def interceptor(next_fun, args, kwargs, context):
        if type(context.module) is nn.Dense:
            seen.append((context.module.name, context.module.dot_general))
        return next_fun(*args, **kwargs)

    x = np.zeros((2, 5), np.float32)
    for spec in ("mlp:4x3:relu", "stack:dense=4-tanh"):
        model = model_from_spec(spec)
        params = jax.eval_shape(lambda model=model: model.init(jax.random.key(0), x))
        with nn.intercept_methods(interceptor):
            jax.eval_shape(model.apply, params, x)
    masked = model_from_spec("mlp:4x4:sigmoid").masked(3, 1)
    params = jax.eval_shape(lambda: masked.init(jax.random.key(0), x))
    with nn.intercept_methods(interceptor):
        jax.eval_shape(masked.apply, params, x)
    assert {name for name, _ in seen} >= {"hidden_0", "hidden_1", "dense_0", "output"}
    assert all(dot is members_major_dot for _, dot in seen), seen


def numpy_per_example_gradients(params: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """The slides' backprop for x -> h = σ(x W₁ + b₁) -> z = h w₂ + b₂, loss −LL, per example,
    in float64: ∂/∂z = σ(z) − y; ∂/∂w₂ = h ⊗ that; ∂/∂W₁ = x ⊗ [(σ(z) − y) w₂ ⊙ h(1 − h)]."""
    p = as64(params)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    x = np.float64(x)
    h = sigmoid(x @ p["hidden_0"]["kernel"] + p["hidden_0"]["bias"])  # [n, H]
    dz = sigmoid(h @ p["output"]["kernel"][:, 0] + p["output"]["bias"][0]) - y  # [n]
    dh = dz[:, None] * p["output"]["kernel"][:, 0] * h * (1 - h)  # [n, H]
    return {
        "hidden_0": {"kernel": x[:, :, None] * dh[:, None, :], "bias": dh},
        "output": {"kernel": (h * dz[:, None])[:, :, None], "bias": dz[:, None]},
    }


def test_dense_taps_of_members_major_mlp_match_slides_backprop():
    model = model_from_spec("mlp:6:sigmoid")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(9, 5)).astype(np.float32)
    y = (rng.random(9) < 0.5).astype(np.float32)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x[:1]))["params"]
    params = jax.tree.map(lambda s: rng.normal(size=s.shape).astype(np.float32), shapes)

    def loss_fn(p, xb, yb):
        z = model.apply({"params": p}, xb)
        return -(yb * jax.nn.log_sigmoid(z) + (1 - yb) * jax.nn.log_sigmoid(-z))

    def tap_gradients(p):
        taps = dense_taps(loss_fn, p, x, y)
        assert taps is not None, "the members-major Dense layers must stay eligible for taps"
        return taps.gradients(), per_example_gradients(loss_fn, p, x, y, method="dense")

    taps, dense = jax.jit(tap_gradients)(params)
    ref = numpy_per_example_gradients(params, x, y)
    jax.tree.map(
        lambda got, want: assert_close(got, want),
        dense,
        ref,
    )
