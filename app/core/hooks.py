"""Start-up registries: how a lower package calls into higher ones without importing them.

A package that must tell others about something (an event was recorded, an
integration is about to be deleted, billing needs a usage count) owns a
`Registry`; the packages that care register a callable into it when the
process starts (app.wiring, called by every entry point). Registration is
idempotent, so starting twice (tests, reloads) runs each callable once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

HookT = TypeVar("HookT")


class Registry(Generic[HookT]):
    """An ordered set of callables; iterating yields them in registration order."""

    def __init__(self, name: str) -> None:
        """`name` says what the hooks are for, in error messages and reprs."""
        self.name = name
        self._hooks: list[HookT] = []

    def register(self, hook: HookT) -> HookT:
        """Add `hook` unless it is already registered (same object); returns it, so it can decorate."""
        if hook not in self._hooks:
            self._hooks.append(hook)
        return hook

    def unregister(self, hook: HookT) -> None:
        """Remove `hook` if registered (tests that need a process without it)."""
        if hook in self._hooks:
            self._hooks.remove(hook)

    def __iter__(self) -> Iterator[HookT]:
        return iter(tuple(self._hooks))

    def __len__(self) -> int:
        return len(self._hooks)

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {self._hooks!r})"
