"""How often links may be asked for: per network of the asker and per address.

Every request for a link counts (not only failures: each one sends a mail), so that
nobody can use the privacy center to flood an address with mails or to send mail in
bulk.  Beyond the allowance the asker gets a plain 429 with `Retry-After`; the limit
is the same for an address we hold data about and one we do not, so it shows nothing
about who exists.  Addresses are counted by their pseudonym, so not even this
process's memory keeps an address after its request was answered.  IPv6 askers are
counted per /64, which one client can rotate within at will.  Counts live in the
process (`kernel.ratelimit`): several processes multiply the allowance by their number.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from privateline.kernel.ratelimit import FailureLimit

PER_SOURCE = (10, timedelta(hours=1))
PER_ADDRESS = (3, timedelta(hours=1))
_PRUNE_EVERY = 256


class LinkRequestLimits:
    def __init__(self) -> None:
        self.per_source = FailureLimit(*PER_SOURCE)
        self.per_address = FailureLimit(*PER_ADDRESS)
        self._since_prune = 0

    def admit(self, source: str, pseudonym: str | None, now: datetime) -> timedelta | None:
        """Count one request; how long to wait instead when the source or the address is over its limit.

        Checking and counting happen without a pause in between, on the event loop, so
        parallel requests cannot all pass before the first is counted.
        """
        self._since_prune += 1
        if self._since_prune >= _PRUNE_EVERY:
            self._since_prune = 0
            self.per_source.prune(now)
            self.per_address.prune(now)
        waits = [self.per_source.blocked_for(source, now)]
        if pseudonym is not None:
            waits.append(self.per_address.blocked_for(pseudonym, now))
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None:
            return wait
        self.per_source.fail(source, now)
        if pseudonym is not None:
            self.per_address.fail(pseudonym, now)
        return None
