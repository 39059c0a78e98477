"""`privateline devices switch NUMBER SERVICE on|off`: the operator's way to the DEV-10 switches."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from privateline.app.cli import app
from privateline.services.devices.nicknames import set_nickname, voip_nickname
from privateline.services.devices.records import device
from privateline.storage.audit_log import audit_entry
from privateline.storage.database import Database

runner = CliRunner()


def env_for(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"PRIVATELINE_DATA_DIR": str(tmp_path / "var"), "PRIVATELINE_DATABASE_URL": database_url}


def add_device(env: dict[str, str], number: str = "4711") -> None:
    added = runner.invoke(
        app,
        ["devices", "add", "--number", number, "--serial", "SN1", "--mac", "0011.2233.4455", "--product", "N510"],
        input="factory-pw\n",
        env=env,
    )
    assert added.exit_code == 0, added.output


def switches(database: Database) -> tuple[bool, bool, bool]:
    with database.reading() as connection:
        row = connection.execute(sa.select(device.c.voip_on, device.c.info_on, device.c.messaging_on)).one()
    return bool(row.voip_on), bool(row.info_on), bool(row.messaging_on)


@pytest.mark.promise("DEV-10")
def test_switching_voip_off_and_on_from_the_command_line_deletes_its_data(database_url: str, tmp_path: Path) -> None:
    env = env_for(database_url, tmp_path)
    add_device(env)
    database = Database.open(database_url)
    try:
        with database.unit_of_work() as uow:
            device_id = uow.connection.execute(sa.select(device.c.id)).scalar_one()
            set_nickname(uow.connection, device_id, "Oma Ilse", datetime(2026, 1, 1, tzinfo=UTC))
            uow.commit()

        off = runner.invoke(app, ["devices", "switch", "4711", "voip", "off"], env=env)
        assert off.exit_code == 0, off.output
        assert "device 4711: voip is off; 1 row(s) of its data deleted" in off.output
        assert switches(database) == (False, True, True)
        with database.reading() as connection:
            assert connection.execute(sa.select(voip_nickname)).all() == []
            kinds = list(connection.execute(sa.select(audit_entry.c.kind, audit_entry.c.detail)))
        switched = [detail for kind, detail in kinds if kind == "device.service_switched"]
        assert len(switched) == 1
        assert (switched[0]["service"], switched[0]["on"]) == ("voip", False)
        # The nickname went; the other stores of VoIP (the SIP bindings) had nothing of it.
        assert switched[0]["removed"]["voip_nickname"] == 1
        assert sum(switched[0]["removed"].values()) == 1

        # Spelling is forgiving in case, as operators type it.
        on = runner.invoke(app, ["devices", "switch", "4711", "VoIP", "ON"], env=env)
        assert on.exit_code == 0, on.output
        assert "device 4711: voip is on" in on.output
        assert switches(database) == (True, True, True)

        for service in ("info", "messaging"):
            assert runner.invoke(app, ["devices", "switch", "4711", service, "off"], env=env).exit_code == 0
        assert switches(database) == (True, False, False)
    finally:
        database.dispose()


@pytest.mark.promise("DEV-10")
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["4711", "fax", "off"], "unknown service 'fax': use one of voip, info, messaging"),
        (["4711", "voip", "maybe"], "unknown state 'maybe': use on or off"),
        (["999", "voip", "off"], "no device with number 999"),
    ],
)
def test_a_bad_service_state_or_number_exits_2_and_changes_nothing(
    database_url: str, tmp_path: Path, arguments: list[str], message: str
) -> None:
    env = env_for(database_url, tmp_path)
    add_device(env)
    result = runner.invoke(app, ["devices", "switch", *arguments], env=env)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    database = Database.open(database_url)
    try:
        assert switches(database) == (True, True, True)
    finally:
        database.dispose()
