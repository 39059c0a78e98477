"""`privateline dpo` and `privateline rights` as an operator runs them (R-13)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from typer.testing import CliRunner

from privateline.app.cli import app
from privateline.kernel.requests import RequestKind
from privateline.services.dpo.accounts import dpo_account
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database
from privateline.storage.rights_requests import RightsRequests

runner = CliRunner()
PASSWORD = "a long and secret passphrase"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"PRIVATELINE_DATA_DIR": str(tmp_path / "var"), "PRIVATELINE_DATABASE_URL": database_url}


def accounts(database_url: str) -> list[sa.Row[tuple[object, ...]]]:
    database = Database.open(database_url)
    try:
        with database.reading() as connection:
            return list(connection.execute(sa.select(dpo_account).order_by(dpo_account.c.name)))
    finally:
        database.dispose()


def audit_kinds(database_url: str) -> list[tuple[str, dict[str, object]]]:
    database = Database.open(database_url)
    try:
        with database.reading() as connection:
            return [(e.kind, dict(e.detail)) for e in AuditLog(connection).entries()]
    finally:
        database.dispose()


def days_overdue(received: datetime, now: datetime) -> int:
    return (now - (received + relativedelta(months=1))).days


def file_requests(database_url: str, *received: datetime) -> list[str]:
    database = Database.open(database_url)
    try:
        with database.unit_of_work() as uow:
            requests = RightsRequests(uow.connection)
            ids = [requests.file(RequestKind.ACCESS, "device_owner", f"p-{n}", at).id for n, at in enumerate(received)]
            uow.commit()
        return ids
    finally:
        database.dispose()


def test_dpo_add_asks_for_the_password_twice_and_stores_only_a_strong_argon2id_hash(
    env: dict[str, str], database_url: str
) -> None:
    result = runner.invoke(app, ["dpo", "add", "Erika"], env=env, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "added DPO account erika" in result.stdout
    assert PASSWORD not in result.output  # hidden input, never echoed or printed
    [row] = accounts(database_url)
    assert row.name == "erika" and row.last_sign_in_at is None
    # argon2id with the library's default cost (64 MiB, 3 passes, 4 lanes): chosen by a person.
    assert row.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in row.password_hash
    assert audit_kinds(database_url) == [("dpo.account_added", {"account": "erika", "by": "cli"})]

    listed = runner.invoke(app, ["dpo", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["name", "created", "last", "sign-in"]
    assert lines[1].startswith("erika ") and lines[1].endswith("never")
    document = json.loads(runner.invoke(app, ["dpo", "list", "--json"], env=env).stdout)
    assert [a["name"] for a in document] == ["erika"] and document[0]["last_sign_in_at"] is None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["dpo", "add", "erika"], f"{PASSWORD}\n{PASSWORD}x\n", "the two passwords differ"),
        (["dpo", "add", "erika"], "short\nshort\n", "at least 12 characters"),
        (["dpo", "add", "erika!"], None, "an account name has 1 to 64 characters"),
        (["dpo", "add", "-"], None, "an account name has 1 to 64 characters"),
    ],
)
def test_dpo_add_refuses_bad_input_with_exit_2_and_adds_nothing(
    env: dict[str, str], database_url: str, args: list[str], stdin: str | None, message: str
) -> None:
    result = runner.invoke(app, args, env=env, input=stdin)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "short" not in result.stderr and PASSWORD not in result.output
    assert accounts(database_url) == []


def test_a_name_is_taken_once_and_dpo_remove_removes_it(env: dict[str, str], database_url: str) -> None:
    assert runner.invoke(app, ["dpo", "add", "erika"], env=env, input=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    again = runner.invoke(app, ["dpo", "add", "ERIKA"], env=env, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 2
    assert "an account named 'erika' already exists" in again.stderr
    assert "Password" not in again.output  # refused before asking for a password

    unknown = runner.invoke(app, ["dpo", "remove", "hans"], env=env)
    assert unknown.exit_code == 2 and "no account named 'hans'" in unknown.stderr
    removed = runner.invoke(app, ["dpo", "remove", "erika"], env=env)
    assert removed.exit_code == 0 and "removed DPO account erika" in removed.stdout
    assert accounts(database_url) == []
    assert [k for k, _ in audit_kinds(database_url)] == ["dpo.account_added", "dpo.account_removed"]
    empty = runner.invoke(app, ["dpo", "list"], env=env)
    assert empty.exit_code == 0 and "no DPO accounts" in empty.stderr


@pytest.mark.promise("R-13")
def test_rights_list_marks_overdue_requests_and_lists_them_first(env: dict[str, str], database_url: str) -> None:
    now = datetime.now(UTC)
    fresh, late = file_requests(database_url, now - timedelta(days=3), now - timedelta(days=40))
    overdue_by = days_overdue(now - timedelta(days=40), now)  # 8 to 12 days, by the lengths of the months
    result = runner.invoke(app, ["rights", "list"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("OVERDUE") and late in lines[0] and f"OVERDUE by {overdue_by} day(s)" in lines[0]
    assert lines[1].startswith("open ") and fresh in lines[1] and "OVERDUE" not in lines[1]
    assert "2 open request(s), 1 overdue" in result.stderr

    only_late = runner.invoke(app, ["rights", "list", "--overdue"], env=env)
    assert only_late.exit_code == 1  # something is wrong: a request is overdue
    assert [line.split()[1] for line in only_late.stdout.splitlines()] == [late]
    document = json.loads(runner.invoke(app, ["rights", "list", "--json"], env=env).stdout)
    assert [(r["id"], r["overdue"]) for r in document] == [(late, True), (fresh, False)]


def test_rights_list_overdue_exits_0_when_nothing_is_overdue(env: dict[str, str], database_url: str) -> None:
    file_requests(database_url, datetime.now(UTC) - timedelta(days=3))
    result = runner.invoke(app, ["rights", "list", "--overdue"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "no overdue requests" in result.stderr


@pytest.mark.promise("R-13")
def test_rights_show_prints_the_request_and_its_audit_trail(env: dict[str, str], database_url: str) -> None:
    now = datetime.now(UTC)
    [request_id] = file_requests(database_url, now - timedelta(days=35))
    result = runner.invoke(app, ["rights", "show", request_id], env=env)
    assert result.exit_code == 0, result.output
    assert f"request   {request_id}" in result.stdout
    assert "state     received (received, identity not yet verified)" in result.stdout
    assert f"OVERDUE by {days_overdue(now - timedelta(days=35), now)} day(s)" in result.stdout
    assert "rights.received" in result.stdout and "kind=access" in result.stdout
    document = json.loads(runner.invoke(app, ["rights", "show", request_id, "--json"], env=env).stdout)
    assert document["id"] == request_id and [e["kind"] for e in document["trail"]] == ["rights.received"]


def test_rights_show_of_an_unknown_id_exits_2(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["rights", "show", "no-such-request"], env=env)
    assert result.exit_code == 2
    assert "no rights request with id 'no-such-request'" in result.stderr
