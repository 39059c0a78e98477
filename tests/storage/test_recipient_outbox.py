"""The outbox of notices to recipients: claims, settling, and its retention (R-5, R-11)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from privateline.app.system import System
from privateline.kernel.clock import FakeClock
from privateline.storage.recipient_outbox import NoticeState, RecipientOutbox, StoredNotice

PSEUDONYM = "f" * 64


def add(system: System, recipient: str = "repair_service") -> str:
    with system.database.unit_of_work() as uow:
        notice_id = RecipientOutbox(uow.connection).add(
            recipient, "device_owner", PSEUDONYM, "erasure", ["device_checkin"], system.clock.now(), "req-1"
        )
        uow.commit()
    return notice_id


def get(system: System, notice_id: str) -> StoredNotice | None:
    with system.database.reading() as connection:
        return RecipientOutbox(connection).get(notice_id)


@pytest.mark.promise("R-5")
def test_only_one_worker_can_claim_an_attempt(system: System, clock: FakeClock) -> None:
    notice_id = add(system)
    lease = clock.now() + timedelta(minutes=2)
    with system.database.unit_of_work() as uow:
        outbox = RecipientOutbox(uow.connection)
        assert outbox.claim(notice_id, 0, lease)
        assert not outbox.claim(notice_id, 0, lease)  # a second worker that saw the same row
        uow.commit()
    with system.database.reading() as connection:
        assert RecipientOutbox(connection).due(clock.now(), {"repair_service"}, 10) == []
        assert [n.id for n in RecipientOutbox(connection).due(lease, {"repair_service"}, 10)] == [notice_id]
    claimed = get(system, notice_id)
    assert claimed is not None and claimed.attempts == 1


@pytest.mark.promise("R-5", "R-11")
def test_settled_notices_are_swept_with_the_rights_requests_and_open_ones_are_kept(
    system: System, clock: FakeClock
) -> None:
    delivered, by_hand, failed, pending = (add(system) for _ in range(4))
    with system.database.unit_of_work() as uow:
        outbox = RecipientOutbox(uow.connection)
        outbox.delivered(delivered, clock.now())
        outbox.settle_by_hand(by_hand, clock.now())
        outbox.give_up(failed, "HTTP 500")
        uow.commit()

    clock.advance(timedelta(days=3 * 365 - 2))
    system.sweep()
    assert all(get(system, n) is not None for n in (delivered, by_hand, failed, pending))

    # The register keeps a rights request's records three years after it is closed.
    clock.advance(timedelta(days=5))
    results = {r.store: r.removed for r in system.sweep()}
    assert results["recipient_notice"] == 2
    assert get(system, delivered) is None and get(system, by_hand) is None
    kept = get(system, failed)
    assert kept is not None and kept.state is NoticeState.FAILED  # work still to do is never swept
    assert get(system, pending) is not None
