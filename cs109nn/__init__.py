"""cs109nn: CS109's *From Logistic Regression to Deep Learning* as pure JAX functions.

Layers (see DESIGN.md): ``lecture`` (the slides' equations, the reference) -> ``models``,
``data``, ``grads`` -> ``train`` (the engine) -> ``sweep`` -> ``report`` -> ``cli``.
"""

__version__ = "0.1.0"
