"""Consent as an append-only ledger of events (GDPR Art. 7(1), WEB-8, R-9).

Nothing is ever updated in place: a consent is *given*, *withdrawn* or *expires*, and
each of these is an event with a receipt.  Whether a subject consents to a purpose
now is derived from the events: the newest event for that purpose decides, and a
given consent lapses at its expiry even before the sweeper writes the "expired" event
(WEB-8: cookie consent lasts one year, then the visitor is asked again).  Withdrawal
is as easy as giving and does not undo what was lawful before it (Art. 7(3), R-9).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConsentEventKind(StrEnum):
    GIVEN = "given"
    # Asked and declined: recorded like a consent, so the choice is respected and proven,
    # and asked again only when it lapses (WEB-8: "refuse cookies entirely").
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ConsentEvent:
    """One line of the ledger, and the receipt handed to the subject."""

    record_id: str  # the receipt's id; a website visitor proves identity with it
    subject: str  # keyed pseudonym of the subject, never the subject's own identifier
    purpose: str  # a register activity id
    kind: ConsentEventKind
    register_version: str  # the notice the subject saw
    method: str  # how it was collected, e.g. "banner", "privacy-center", "signup-form"
    at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    given: bool
    reason: str
    since: datetime | None = None
    expires_at: datetime | None = None
    register_version: str | None = None


def _newest(events: list[ConsentEvent]) -> ConsentEvent:
    """The latest event; of events at the same moment, the one written last (the ledger's order)."""
    return max(enumerate(events), key=lambda pair: (pair[1].at, pair[0]))[1]


def current_consent(events: Iterable[ConsentEvent], purpose: str, now: datetime) -> ConsentState:
    """The consent for `purpose` at `now`, from the ledger's events in the order they were written."""
    relevant = [e for e in events if e.purpose == purpose and e.at <= now]
    if not relevant:
        return ConsentState(purpose, False, "never given")
    newest = _newest(relevant)
    if newest.kind is ConsentEventKind.WITHDRAWN:
        return ConsentState(purpose, False, f"withdrawn on {newest.at.date().isoformat()}", newest.at)
    if newest.kind is ConsentEventKind.REFUSED:
        return ConsentState(purpose, False, f"refused on {newest.at.date().isoformat()}", newest.at, newest.expires_at)
    if newest.kind is ConsentEventKind.EXPIRED or (newest.expires_at is not None and newest.expires_at <= now):
        return ConsentState(purpose, False, "expired; ask again", newest.at, newest.expires_at)
    return ConsentState(
        purpose,
        True,
        f"given on {newest.at.date().isoformat()}",
        newest.at,
        newest.expires_at,
        newest.register_version,
    )


def lapsed(events: Iterable[ConsentEvent], now: datetime) -> list[ConsentEvent]:
    """Given consents whose expiry has passed and that have no later event: the sweeper records them expired."""
    newest: dict[tuple[str, str], ConsentEvent] = {}
    for event in events:
        key = (event.subject, event.purpose)
        if key not in newest or event.at >= newest[key].at:
            newest[key] = event
    return [
        e
        for e in newest.values()
        if e.kind in (ConsentEventKind.GIVEN, ConsentEventKind.REFUSED)
        and e.expires_at is not None
        and e.expires_at <= now
    ]


def choice_pending(events: Iterable[ConsentEvent], purpose: str, now: datetime) -> bool:
    """True when the subject must be asked about `purpose`: never asked, or the last answer lapsed (WEB-8)."""
    relevant = [e for e in events if e.purpose == purpose and e.at <= now]
    if not relevant:
        return True
    newest = _newest(relevant)
    if newest.kind is ConsentEventKind.EXPIRED:
        return True
    if newest.kind is ConsentEventKind.WITHDRAWN:
        return False  # the subject just said no; asking again at once would not respect it
    return newest.expires_at is not None and newest.expires_at <= now
