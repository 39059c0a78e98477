"""`privateline dpo …`: the accounts of the data-protection officer's console.

Exit codes as everywhere: 0 success; 1 the command ran and found a problem; 2 bad input
(an unknown name, a bad password, an unmigrated database).  Passwords are read from the terminal without
echo (or from standard input when it is not a terminal), twice, and never printed.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from privateline.app.cli_common import ConfigOption, JsonOption, err, fail, migrated_system_from, out
from privateline.services.dpo.accounts import (
    AccountError,
    account_by_name,
    add_account,
    check_password,
    list_accounts,
    normalise_name,
    remove_account,
)
from privateline.services.dpo.views import moment

# Operators at the shell act as "cli": the audit chain cannot know which person typed it.
CLI_ACTOR = "cli"

NameArgument = Annotated[str, typer.Argument(help="The account name: letters a-z, digits, '.', '_' or '-'.")]

dpo_app = typer.Typer(
    help="Accounts of the data-protection officer's console (/dpo): add, list, remove.", no_args_is_help=True
)


# privateline dpo ---------------------------------------------------------------


@dpo_app.command("add")
def add_command(name: NameArgument, config: ConfigOption = None) -> None:
    """Add an account for the DPO console; the password is asked for twice and never shown."""
    try:
        wanted = normalise_name(name)
    except AccountError as exc:
        fail(str(exc))
    system = migrated_system_from(config)
    try:
        with system.database.reading() as connection:
            if account_by_name(connection, wanted) is not None:
                fail(f"an account named {wanted!r} already exists")
        password = typer.prompt("Password", hide_input=True, err=True)
        again = typer.prompt("Repeat the password", hide_input=True, err=True)
        if password != again:
            fail("the two passwords differ; no account was added")
        try:
            check_password(password)
            with system.database.unit_of_work() as uow:
                add_account(uow.connection, wanted, password, system.clock.now(), by=CLI_ACTOR)
                uow.commit()
        except AccountError as exc:
            fail(f"{exc}; no account was added")
    finally:
        system.close()
    out.print(f"added DPO account {wanted}; it signs in at /dpo", highlight=False)


@dpo_app.command("list")
def list_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the DPO console's accounts, with their last sign-in."""
    system = migrated_system_from(config)
    try:
        with system.database.reading() as connection:
            accounts = list_accounts(connection)
    finally:
        system.close()
    if as_json:
        document = [
            {
                "name": a.name,
                "created_at": a.created_at.isoformat(),
                "last_sign_in_at": None if a.last_sign_in_at is None else a.last_sign_in_at.isoformat(),
            }
            for a in accounts
        ]
        sys.stdout.write(json.dumps(document, indent=1) + "\n")
        return
    if not accounts:
        err.print("no DPO accounts: add one with `privateline dpo add NAME`", highlight=False, markup=False)
        return
    width = max(len("name"), *(len(a.name) for a in accounts))
    out.print(f"{'name':<{width}}  {'created':<20}  last sign-in", highlight=False, markup=False)
    for a in accounts:
        last = moment(a.last_sign_in_at) if a.last_sign_in_at is not None else "never"
        out.print(f"{a.name:<{width}}  {moment(a.created_at):<20}  {last}", highlight=False, markup=False)


@dpo_app.command("remove")
def remove_command(name: NameArgument, config: ConfigOption = None) -> None:
    """Remove an account; its sessions end at their next request."""
    try:
        wanted = normalise_name(name)
    except AccountError as exc:
        fail(str(exc))
    system = migrated_system_from(config)
    try:
        with system.database.unit_of_work() as uow:
            removed = remove_account(uow.connection, wanted, system.clock.now(), by=CLI_ACTOR)
            uow.commit()
    finally:
        system.close()
    if not removed:
        fail(f"no account named {wanted!r}")
    out.print(f"removed DPO account {wanted}", highlight=False)
