"""The exception hierarchy: one base, then bad input, bad definitions, and infrastructure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SegstreamError(Exception):
    """Base of every error segstream raises on purpose."""


class InvalidInput(SegstreamError):
    """An input message that cannot be applied; it belongs on the dead-letter topic.

    `reason` is a short machine-friendly code (e.g. ``not_json``), `detail` says what to fix.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a definition file, at a path such as ``segments[3].when.all[1]``."""

    path: str
    message: str

    def render(self, source: str) -> str:
        where = f"{source}: {self.path}" if self.path else source
        return f"{where}: {self.message}"


class DefinitionError(SegstreamError):
    """A definition file was rejected as a whole; `problems` lists every reason."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = [p.render(source) for p in self.problems]
        super().__init__("\n".join(lines) or f"{source}: rejected")

    def lines(self) -> list[str]:
        return [p.render(self.source) for p in self.problems]


class InfrastructureError(SegstreamError):
    """A broker, store or tool the processor needs is unavailable; retrying may help."""


class Unreachable(InfrastructureError):
    """A service segstream needs (the Kafka broker, Redis) did not answer.

    The message says where it was looked for, why it did not answer, and what to check.
    """


class AccessDenied(InfrastructureError):
    """A service segstream needs answered but refused it: wrong credentials, or TLS failed.

    The message says which service, why, and which settings to check; never a secret.
    """
