"""The consent ledger's store: append-only, derived state, expiry, one-year sweep."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from privateline.app.system import System
from privateline.kernel.clock import FakeClock
from privateline.kernel.consent import ConsentEvent, ConsentEventKind
from privateline.storage.consent_ledger import ConsentLedger, consent_event

YEAR = timedelta(days=365)


def given(clock: FakeClock, purpose: str = "web_analytics") -> ConsentEvent:
    now = clock.now()
    return ConsentEvent("rec-1", "visitor-p", purpose, ConsentEventKind.GIVEN, "v1", "banner", now, now + YEAR)


def test_consent_is_derived_from_events_and_expiry_is_recorded_then_swept(system: System, clock: FakeClock) -> None:
    with system.database.unit_of_work() as uow:
        ConsentLedger(uow.connection).append([given(clock), given(clock, "event_analytics")])
        uow.commit()
    clock.advance(timedelta(days=10))
    with system.database.unit_of_work() as uow:
        ledger = ConsentLedger(uow.connection)
        withdrawn = ConsentEvent(
            "rec-1", "visitor-p", "event_analytics", ConsentEventKind.WITHDRAWN, "v1", "settings", clock.now()
        )
        ledger.append([withdrawn])
        assert ledger.current("visitor-p", "web_analytics", clock.now()).given
        assert not ledger.current("visitor-p", "event_analytics", clock.now()).given
        uow.commit()
    clock.advance(YEAR)
    with system.database.unit_of_work() as uow:
        ledger = ConsentLedger(uow.connection)
        assert ledger.record_expiries(clock.now()) == 1
        assert ledger.record_expiries(clock.now()) == 0  # recorded once
        assert [e.kind for e in ledger.events_of_record("rec-1")] == ["given", "given", "withdrawn", "expired"]
        uow.commit()
    clock.advance(timedelta(days=1))
    system.sweep()  # one year after they were written, the first three rows go (WEB-8)
    with system.database.reading() as connection:
        kinds = [r.kind for r in connection.execute(sa.select(consent_event).order_by(consent_event.c.id))]
    assert kinds == ["expired"]
