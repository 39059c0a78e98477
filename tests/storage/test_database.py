from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from privateline.app.system import System
from privateline.storage.notice_versions import NoticeVersions, notice_version

T = datetime(2026, 1, 1, tzinfo=UTC)


def count(system: System) -> int:
    with system.database.reading() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(notice_version)).scalar_one())


def test_a_unit_of_work_without_commit_is_rolled_back(system: System) -> None:
    with system.database.unit_of_work() as uow:
        NoticeVersions(uow.connection).publish("v1", "{}", T)
    assert count(system) == 0


def _publish_then_fail(system: System) -> None:
    with system.database.unit_of_work() as uow:
        NoticeVersions(uow.connection).publish("v1", "{}", T)
        raise RuntimeError("boom")


def test_a_unit_of_work_that_fails_leaves_nothing_half_written(system: System) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        _publish_then_fail(system)
    assert count(system) == 0


def test_a_committed_unit_of_work_is_kept(system: System) -> None:
    with system.database.unit_of_work() as uow:
        NoticeVersions(uow.connection).publish("v1", "{}", T)
        uow.commit()
    assert count(system) == 1


def test_naive_datetimes_are_refused(system: System) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), system.database.unit_of_work() as uow:
        NoticeVersions(uow.connection).publish("v1", "{}", datetime(2026, 1, 1))  # noqa: DTZ001
