"""Hot reads on an autocommit driver connection: fresh after every commit, converted as the stores are."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from privateline.app.system import System
from privateline.services.devices.nicknames import set_nickname, voip_nickname
from privateline.services.voip.reads import HotReads
from tests.services.devices.conftest import MakePhone, stored

NICKNAME = sa.select(voip_nickname.c.nickname, voip_nickname.c.set_at).where(
    voip_nickname.c.device_id == sa.bindparam("device")
)


def test_each_read_sees_what_was_committed_before_it_and_moments_come_back_aware(
    system: System, make_phone: MakePhone
) -> None:
    record = stored(system, make_phone())
    reads = HotReads(system.database)
    try:
        assert reads.rows(NICKNAME, {"device": record.id}) == []
        when = system.clock.now() + timedelta(microseconds=1)
        with system.database.unit_of_work() as uow:
            set_nickname(uow.connection, record.id, "Oma", when)
            uow.commit()
        # No snapshot held from the read before: the commit is seen (DEV-10 relies on it).
        assert reads.rows(NICKNAME, {"device": record.id}) == [("Oma", when)]
    finally:
        reads.close()


def test_a_failed_read_drops_the_connection_and_the_next_read_opens_a_fresh_one(system: System) -> None:
    reads = HotReads(system.database)
    broken: sa.Select[tuple[object]] = sa.select(sa.column("x")).select_from(sa.table("no_such_table"))
    try:
        with pytest.raises(Exception, match="no_such_table"):
            reads.rows(broken, {})
        assert reads.rows(sa.select(sa.literal(1, sa.Integer)), {}) == [(1,)]
    finally:
        reads.close()
    reads.close()  # twice is harmless
