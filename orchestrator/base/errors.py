"""The one exception type that means "the user gave us something we cannot use".

The CLI turns it into `orch: error: <message>` and exit status 2; everything else is a bug and
keeps its traceback. Raising it before anything is written is how commands keep the promise
that bad input leaves the workspace untouched. Checks that do not depend on each other report
together (`Problems`), so a user fixes a command line in one round instead of one per mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class OrchError(Exception):
    """Bad input or an unusable environment: reported as one line, exit status 2.

    `hint` is text printed below that line when the fix is easier shown than said (the
    orch.yaml lines to add, for example)."""

    def __init__(self, what: str, where: str | None = None, hint: str | None = None):
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(f"{what} ({where})" if where else what)

    @property
    def errors(self) -> list[OrchError]:
        """The single problems this error stands for (one line each)."""
        return [self]


class ManyErrors(OrchError):
    """Several independent problems of one input, reported together."""

    def __init__(self, errors: list[OrchError]):
        super().__init__("; ".join(str(e) for e in errors))
        self._errors = errors

    @property
    def errors(self) -> list[OrchError]:
        return self._errors


class Problems:
    """Runs independent checks, keeping every OrchError instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: list[OrchError] = []

    def check(self, action: Callable[[], T]) -> T | None:
        """The action's result, or None when it raised an OrchError (kept for `raise_any`)."""
        try:
            return action()
        except OrchError as exc:
            self.found.extend(exc.errors)
            return None

    def raise_any(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise ManyErrors(self.found)
