"""`privateline dpo …` (the console's accounts) and `privateline rights …` (the requests' queue, for scripts).

Exit codes as everywhere: 0 success; 1 the command ran and found a problem (with
`rights list --overdue`: a request is overdue); 2 bad input (an unknown name or id, a
bad password, an unmigrated database).  Passwords are read from the terminal without
echo (or from standard input when it is not a terminal), twice, and never printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from privateline.app.cli_common import ConfigOption, err, fail, out, system_from
from privateline.app.migrate import pending
from privateline.app.system import System
from privateline.services.dpo.accounts import (
    AccountError,
    account_by_name,
    add_account,
    check_password,
    list_accounts,
    normalise_name,
    remove_account,
)
from privateline.services.dpo.views import (
    STATE_LABELS,
    QueueItem,
    detail_json,
    item_json,
    moment,
    open_queue,
    request_detail,
)

# Operators at the shell act as "cli": the audit chain cannot know which person typed it.
CLI_ACTOR = "cli"

NameArgument = Annotated[str, typer.Argument(help="The account name: letters a-z, digits, '.', '_' or '-'.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

dpo_app = typer.Typer(
    help="Accounts of the data-protection officer's console (/dpo): add, list, remove.", no_args_is_help=True
)
rights_app = typer.Typer(
    help="Data subjects' rights requests (R-13): the open queue and one request's audit trail.", no_args_is_help=True
)


def _migrated(config: Path | None) -> System:
    system = system_from(config)
    if pending(system.database):
        system.close()
        fail("the database schema is not up to date: run `privateline migrate` first")
    return system


# privateline dpo ---------------------------------------------------------------


@dpo_app.command("add")
def add_command(name: NameArgument, config: ConfigOption = None) -> None:
    """Add an account for the DPO console; the password is asked for twice and never shown."""
    try:
        wanted = normalise_name(name)
    except AccountError as exc:
        fail(str(exc))
    system = _migrated(config)
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
    system = _migrated(config)
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
    system = _migrated(config)
    try:
        with system.database.unit_of_work() as uow:
            removed = remove_account(uow.connection, wanted, system.clock.now(), by=CLI_ACTOR)
            uow.commit()
    finally:
        system.close()
    if not removed:
        fail(f"no account named {wanted!r}")
    out.print(f"removed DPO account {wanted}", highlight=False)


# privateline rights ------------------------------------------------------------


def _line(item: QueueItem) -> str:
    r = item.request
    when = f"OVERDUE by {item.days} day(s)" if item.overdue else f"due in {item.days} day(s)"
    return "  ".join(
        [
            f"{'OVERDUE' if item.overdue else 'open':<7}",
            f"{item.stored.id:<22}",
            f"{r.kind.value:<18}",
            f"{r.state.value:<17}",
            f"received {moment(r.received_at)}",
            f"due {moment(r.due_at)} ({when})",
        ]
    )


@rights_app.command("list")
def rights_list_command(
    config: ConfigOption = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only overdue requests; exit 1 when there is any (for monitoring).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List the open rights requests: overdue first (marked OVERDUE), then by due date."""
    system = _migrated(config)
    try:
        with system.database.reading() as connection:
            items = open_queue(connection, system.clock.now())
    finally:
        system.close()
    if overdue:
        items = [i for i in items if i.overdue]
    if as_json:
        sys.stdout.write(json.dumps([item_json(i) for i in items], indent=1) + "\n")
    elif not items:
        err.print("no overdue requests" if overdue else "no open requests", highlight=False, markup=False)
    else:
        for item in items:
            out.print(_line(item), highlight=False, markup=False)
        late = sum(1 for i in items if i.overdue)
        err.print(f"{len(items)} open request(s), {late} overdue", highlight=False, markup=False)
    if overdue and items:
        raise typer.Exit(1)


@rights_app.command("show")
def rights_show_command(
    request_id: Annotated[str, typer.Argument(metavar="ID", help="The request's id, as `rights list` shows it.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one request: state, deadline, the reason told to the subject, and its audit trail."""
    system = _migrated(config)
    try:
        with system.database.reading() as connection:
            detail = request_detail(connection, request_id.strip(), system.clock.now())
    finally:
        system.close()
    if detail is None:
        fail(f"no rights request with id {request_id!r}")
    if as_json:
        sys.stdout.write(json.dumps(detail_json(detail), indent=1, ensure_ascii=False) + "\n")
        return
    item = detail.item
    r = item.request
    rows = [
        ("request", item.stored.id),
        ("kind", r.kind.value),
        ("state", f"{r.state.value} ({STATE_LABELS[r.state]})"),
        ("subject", f"{item.stored.subject_kind}, pseudonym {item.stored.subject}"),
        ("received", moment(r.received_at)),
        ("due", moment(r.due_at) + (f"  OVERDUE by {item.days} day(s)" if item.overdue else "")),
        ("reason", r.reason or "—"),
        ("closed", moment(r.closed_at)),
    ]
    for label, value in rows:
        out.print(f"{label:<9} {value}", highlight=False, markup=False)
    out.print("audit trail:", highlight=False, markup=False)
    for e in detail.trail:
        parts = [f"  #{e.seq}", moment(e.at), e.kind]
        if e.by:
            parts.append(f"by {e.by}")
        if e.from_state:
            parts.append(f"from {e.from_state}")
        if e.reason:
            parts.append(f"reason: {e.reason}")
        parts.extend(f"{k}={v}" for k, v in sorted(e.other.items()))
        out.print("  ".join(parts), highlight=False, markup=False)
