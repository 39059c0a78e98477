"""The SIP location's group commit (DEV-4): the same rows as `replace_bindings`, all of a batch or none."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from privateline.app.system import System
from privateline.services.devices.records import Service
from privateline.services.devices.switches import switch_service
from privateline.services.voip.group_commit import GroupCommit
from tests.services.devices.conftest import MakePhone, stored
from tests.services.voip.test_bindings import binding, current, rows


@pytest.mark.promise("DEV-4", "DEV-10")
def test_the_group_commit_replaces_bindings_as_the_store_does(system: System, make_phone: MakePhone) -> None:
    phone, other, off = make_phone(), make_phone(), make_phone()
    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        switch_service(uow.connection, system.pseudonymizer, stored(system, off), Service.VOIP, False, now)
        uow.commit()
    commit = GroupCommit(system.database)
    try:
        first, second = binding(phone, now), binding(phone, now, port=5062, call_id="c2")
        batch = {phone.number: [first, second], other.number: [binding(other, now)], off.number: [binding(off, now)]}
        # The device with VoIP off is not written (DEV-10), nor is a number without a device.
        assert commit.replace({**batch, "999999": [binding(phone, now)]}) == {phone.number, other.number}
        assert current(system, phone, now) == [first, second]
        assert current(system, other, now) == [binding(other, now)]
        assert rows(system) == 3
        # A replacement is the whole set (RFC 3261 §10.3 step 7): the places no longer used go.
        assert commit.replace({phone.number: [second], other.number: []}) == {phone.number, other.number}
        assert current(system, phone, now) == [second]
        assert current(system, other, now) == []
        assert rows(system) == 1
    finally:
        commit.close()


@pytest.mark.promise("DEV-4")
def test_a_batch_the_database_refuses_is_written_not_at_all_and_the_next_one_is(
    system: System, make_phone: MakePhone
) -> None:
    phone, other = make_phone(), make_phone()
    now = system.clock.now()
    commit = GroupCommit(system.database)
    try:
        good = binding(phone, now)
        refused = dataclasses.replace(binding(other, now), contact=None)  # type: ignore[arg-type]
        # SQLAlchemy's error, as on every other path, so the caller tells "busy" from "refused".
        with pytest.raises(sa.exc.IntegrityError):
            commit.replace({phone.number: [good], other.number: [refused]})
        assert rows(system) == 0  # the good one of the batch is not stored either
        both = {phone.number: [good], other.number: [binding(other, now)]}
        assert commit.replace(both) == {phone.number, other.number}
        assert current(system, phone, now) == [good]
        assert rows(system) == 2
    finally:
        commit.close()
