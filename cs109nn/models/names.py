"""Things a spec names: one registry type for layers, initialisers and models.

A :class:`Registry` maps names to values (a layer factory, an initialiser, a model builder).
Its built-in names are fixed, so that ``relu`` or ``mlp`` means the same in every sweep; a
user's name may be registered again (re-running a script or a notebook cell is normal). An
unknown name raises a ValueError that lists the known ones and suggests the closest.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from cs109nn.errors import ConfigError

T = TypeVar("T")

#: Letters, digits and ``_``, not starting with a digit: a name that reads as a word in a spec.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Registry(Generic[T]):
    """``name -> value`` for one kind of thing (``kind``: "layer", "initialiser", "model").

    ``pattern``: what a registered name must match. ``describe(value)``: how a known entry is
    listed in error messages and :meth:`descriptions` (default: its name), joined by
    ``separator``.
    """

    def __init__(
        self,
        kind: str,
        builtin: Mapping[str, T],
        *,
        pattern: re.Pattern[str] = IDENTIFIER,
        describe: Callable[[T], str] | None = None,
        separator: str = ", ",
    ) -> None:
        self.kind = kind
        self.pattern = pattern
        self._entries: dict[str, T] = dict(builtin)
        self._builtin = frozenset(builtin)
        self._describe = describe
        self._separator = separator

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> tuple[str, ...]:
        """Every known name, built-in and registered, sorted."""
        return tuple(sorted(self._entries))

    def is_builtin(self, name: str) -> bool:
        """True for a name the package defines (it cannot be replaced)."""
        return name in self._builtin

    def register(self, name: str, value: T) -> None:
        """Make ``value`` known as ``name``; ValueError for a malformed or built-in name."""
        if not isinstance(name, str) or not self.pattern.match(name):
            raise ConfigError(f"{self.kind} name {name!r} must match {self.pattern.pattern}")
        if name in self._builtin:
            raise ConfigError(f"{name!r} is a built-in {self.kind} and cannot be replaced")
        self._entries[name] = value

    def get(self, name: str, where: str = "") -> T:
        """The value of ``name``; ValueError naming it (``where``: e.g. " in 'dense=x'"),
        suggesting the closest known name and listing all of them."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name
            raise ConfigError(f"{self.unknown(name, where)}; {self.known()}") from None

    def unknown(self, name: object, where: str = "") -> str:
        """``"unknown layer 'relu6' (did you mean 'relu'?)"``: the first half of get's error."""
        close = difflib.get_close_matches(str(name), self._entries, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown {self.kind} {name!r}{where}{hint}"

    def known(self) -> str:
        """``"known layers: avgpool, conv, ..."``, each entry as ``describe`` lists it."""
        listing = self._separator.join(self.describe(name) for name in self.names())
        return f"known {self.kind}s: {listing}"

    def descriptions(self) -> Mapping[str, str]:
        """A live read-only view ``name -> description`` (registrations show up in it)."""
        return _Descriptions(self)

    def describe(self, name: str) -> str:
        """How entry ``name`` is listed: ``describe(value)``, or the name itself."""
        value = self._entries[name]
        return name if self._describe is None else self._describe(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class _Descriptions(Mapping[str, str]):
    """``registry.descriptions()``: reads the registry on every access, so it stays current."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> str:
        if name not in self._registry:
            raise KeyError(name)
        return self._registry.describe(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)
