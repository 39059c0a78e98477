"""Counting failed attempts, so that guessing a password costs time (security by default).

A fixed number of failures per key (a source network, a device number) is allowed
within a window; beyond it the key is refused until the oldest failure leaves the
window.  Success does not count.  Pure: times are passed in, so tests use a fake clock.
State lives in the process: several processes each keep their own count, which only
multiplies the allowance by the number of processes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class FailureLimit:
    allowed: int
    window: timedelta
    # Keys with no failure inside the window are forgotten at the next `prune`.
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def _recent(self, key: str, now: datetime) -> deque[datetime] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        cutoff = now - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def blocked_for(self, key: str, now: datetime) -> timedelta | None:
        """How long `key` must wait before its next attempt, or None when it may try now."""
        failures = self._recent(key, now)
        if failures is None or len(failures) < self.allowed:
            return None
        return failures[0] + self.window - now

    def fail(self, key: str, now: datetime) -> None:
        failures = self._recent(key, now)
        if failures is None:
            failures = self._failures[key] = deque()
        failures.append(now)
        if len(failures) > self.allowed:
            failures.popleft()

    def prune(self, now: datetime) -> None:
        for key in list(self._failures):
            self._recent(key, now)
