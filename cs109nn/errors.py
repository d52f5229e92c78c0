"""The package's deliberate errors, by what is at fault; a command prints one as a single line.

- :class:`ConfigError` (exit code 2): a spec, option or config value that cannot be used -- a
  model spec, a sweep spec or override, a hyperparameter out of its range, steps < 1.
- ``cs109nn.lecture.inputs.DataError`` (exit code 1): data that cannot be used as given. It is
  defined in the lecture layer, which imports nothing of the package; every data check raises it.
- :class:`RunError` (exit code 1): a run folder or run that cannot go on as asked.

Anything else that escapes a command is a bug and keeps its traceback. Free of JAX.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A spec, option or config value that cannot be used; the message says which and why."""


class RunError(RuntimeError):
    """A run folder or run that cannot go on as asked; the message says why and what to do."""
