"""The DPO console's accounts: names, password rules, argon2id hashes, authentication."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from privateline.app.system import System
from privateline.services.dpo.accounts import (
    AccountError,
    add_account,
    authenticate,
    dpo_account,
    list_accounts,
    normalise_name,
    remove_account,
)
from tests.services.dpo.conftest import PASSWORD, audit_entries, make_account


@pytest.mark.parametrize(("typed", "stored"), [("Erika", "erika"), (" hans.m ", "hans.m"), ("dpo_2-b", "dpo_2-b")])
def test_names_are_stored_in_lower_case(typed: str, stored: str) -> None:
    assert normalise_name(typed) == stored


@pytest.mark.parametrize("typed", ["", " ", "-erika", "er ika", "érika", "e" * 65, "<script>"])
def test_bad_names_are_refused(typed: str) -> None:
    with pytest.raises(AccountError, match="an account name has 1 to 64 characters"):
        normalise_name(typed)


def test_a_password_is_long_enough_and_never_kept_in_clear(system: System) -> None:
    with system.database.unit_of_work() as uow:
        with pytest.raises(AccountError, match="at least 12 characters"):
            add_account(uow.connection, "erika", "too short", system.clock.now(), by="test")
        with pytest.raises(AccountError, match="more than white space"):
            add_account(uow.connection, "erika", " " * 20, system.clock.now(), by="test")
        account = add_account(uow.connection, "erika", PASSWORD, system.clock.now(), by="test")
        with pytest.raises(AccountError, match="already exists"):
            add_account(uow.connection, "ERIKA", PASSWORD, system.clock.now(), by="test")
        uow.commit()
    assert PASSWORD not in repr(account)
    with system.database.reading() as connection:
        assert [a.name for a in list_accounts(connection)] == ["erika"]
        stored = connection.execute(sa.select(dpo_account.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_authentication_checks_the_password_and_records_the_sign_in(system: System) -> None:
    make_account(system, "erika")
    now = system.clock.now()
    assert authenticate(system.database, "erika", "wrong password!", now) is None
    assert authenticate(system.database, "nobody", PASSWORD, now) is None
    assert authenticate(system.database, "erika", "", now) is None
    signed_in = authenticate(system.database, "ERIKA", PASSWORD, now)
    assert signed_in is not None and signed_in.name == "erika" and signed_in.last_sign_in_at == now
    assert [k for k, _, _ in audit_entries(system, "dpo.")] == ["dpo.account_added", "dpo.signed_in"]


def test_a_hash_made_with_weaker_parameters_is_upgraded_at_the_next_sign_in(system: System) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    with system.database.unit_of_work() as uow:
        uow.connection.execute(
            sa.insert(dpo_account).values(name="erika", password_hash=weak, created_at=system.clock.now())
        )
        uow.commit()
    assert authenticate(system.database, "erika", PASSWORD, system.clock.now()) is not None
    with system.database.reading() as connection:
        stored = connection.execute(sa.select(dpo_account.c.password_hash)).scalar_one()
    assert stored != weak and stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_removing_an_account_is_recorded(system: System) -> None:
    make_account(system, "erika")
    with system.database.unit_of_work() as uow:
        assert remove_account(uow.connection, "Erika", system.clock.now(), by="cli")
        assert not remove_account(uow.connection, "erika", system.clock.now(), by="cli")
        uow.commit()
    assert audit_entries(system, "dpo.account_removed") == [
        ("dpo.account_removed", None, {"account": "erika", "by": "cli"})
    ]
    assert authenticate(system.database, "erika", PASSWORD, system.clock.now()) is None
