"""The rights-request store: unguessable ids, the DPO's queue, transitions in the audit chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from privateline.app.system import System
from privateline.kernel.clock import FakeClock
from privateline.kernel.requests import RequestKind, RequestState, TransitionError
from privateline.storage.audit_log import AuditLog
from privateline.storage.rights_requests import RightsRequests


def test_an_open_request_becomes_overdue_and_heads_the_queue(system: System, clock: FakeClock) -> None:
    with system.database.unit_of_work() as uow:
        requests = RightsRequests(uow.connection)
        old = requests.file(RequestKind.ACCESS, "device_owner", "p-1", clock.now())
        clock.advance(timedelta(days=20))
        new = requests.file(RequestKind.ERASURE, "device_owner", "p-2", clock.now())
        uow.commit()
    assert len(old.id) >= 20 and old.id != new.id
    clock.advance(timedelta(days=15))  # 35 days after the first: overdue
    with system.database.reading() as connection:
        queue = RightsRequests(connection).queue(clock.now())
    assert [q.id for q in queue] == [old.id, new.id]
    assert queue[0].request.overdue(clock.now()) and not queue[1].request.overdue(clock.now())


def test_every_transition_is_in_the_audit_chain_and_wrong_steps_change_nothing(
    system: System, clock: FakeClock
) -> None:
    with system.database.unit_of_work() as uow:
        requests = RightsRequests(uow.connection)
        filed = requests.file(RequestKind.ACCESS, "device_owner", "p-1", clock.now())
        requests.transition(filed.id, lambda r: r.verify_identity(clock.now()), clock.now(), by="subject")
        with pytest.raises(TransitionError):
            requests.transition(filed.id, lambda r: r.verify_identity(clock.now()), clock.now(), by="subject")
        done = requests.transition(filed.id, lambda r: r.complete(clock.now()), clock.now(), by="system")
        uow.commit()
    assert done.request.state is RequestState.COMPLETED
    with system.database.reading() as connection:
        kinds = [e.kind for e in AuditLog(connection).entries(subject="p-1")]
        assert AuditLog(connection).verify().intact
    assert kinds == ["rights.received", "rights.identity_verified", "rights.completed"]
