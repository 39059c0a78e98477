"""`privateline rights …`: the data subjects' requests, for operators who script (R-13).

`list` and `show` read the queue and one request's audit trail; `export` writes the
package of an access or portability request (R-2, R-6), `erase` carries out an erasure
request (R-4), `replay` applies the erasure journal again after a database was restored
from a backup.  Nothing is exported or erased for a request whose subject's identity was
not verified through the subject's own channel (the privacy center, the device portal):
the command refuses such a request with exit code 2.

Exit codes as everywhere: 0 success; 1 the command ran and found a problem (with
`list --overdue`: a request is overdue); 2 bad input (an unknown id, a request of the
wrong kind or state, an unmigrated database).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from privateline.app.cli_common import ConfigOption, JsonOption, err, fail, migrated_system_from, out
from privateline.app.system import System
from privateline.kernel.requests import FINAL, RequestKind, RequestState
from privateline.services.dpo.views import (
    STATE_LABELS,
    QueueItem,
    detail_json,
    item_json,
    moment,
    open_queue,
    request_detail,
)
from privateline.services.privacy.held import Subject
from privateline.storage.rights_requests import RightsRequests, StoredRequest

# Operators at the shell act as "cli": the audit chain cannot know which person typed it.
CLI_ACTOR = "cli"
EXPORTABLE = frozenset({RequestKind.ACCESS, RequestKind.PORTABILITY})

rights_app = typer.Typer(
    help=(
        "Data subjects' rights requests (R-13): the open queue, one request's audit trail, "
        "the package of an access request, carrying out an erasure, replaying erasures after a restore."
    ),
    no_args_is_help=True,
)
IdArgument = Annotated[str, typer.Argument(metavar="ID", help="The request's id, as `rights list` shows it.")]


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
    system = migrated_system_from(config)
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
def rights_show_command(request_id: IdArgument, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show one request: state, deadline, the reason told to the subject, and its audit trail."""
    system = migrated_system_from(config)
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


def _verified_request(system: System, request_id: str, kinds: frozenset[RequestKind]) -> tuple[StoredRequest, Subject]:
    """The request and its subject, or exit 2: only verified, open requests of these kinds are acted on."""
    with system.database.reading() as connection:
        stored = RightsRequests(connection).get(request_id.strip())
        if stored is None:
            fail(f"no rights request with id {request_id!r}")
        request = stored.request
        if request.kind not in kinds:
            wanted = " or ".join(sorted(k.value for k in kinds))
            fail(f"request {stored.id} is a request for {request.kind.value}, not {wanted}")
        if request.state is RequestState.RECEIVED:
            # R-13 and the brief's first rule: nothing about a subject before their identity is verified.
            fail(f"request {stored.id}: the subject's identity is not verified yet; nothing is done before it is")
        if request.state is RequestState.REFUSED:
            fail(f"request {stored.id} was refused: {request.reason}")
        resolver = system.rights.resolvers.get(stored.subject_kind)
        found = resolver(connection, {stored.subject}) if resolver is not None else {}
    subject = found.get(stored.subject)
    if subject is None:
        fail(f"request {stored.id}: this database holds no data of its subject (erased, or never held)", code=1)
    return stored, subject


def _complete(system: System, stored: StoredRequest) -> None:
    if stored.request.state in FINAL:
        return
    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        RightsRequests(uow.connection).transition(stored.id, lambda r: r.complete(now), now, by=CLI_ACTOR)
        uow.commit()


@rights_app.command("export")
def rights_export_command(
    request_id: IdArgument,
    config: ConfigOption = None,
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the package to this file (default: standard output).")
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the explanations in the package: en, de or nl.")] = "en",
) -> None:
    """Write the package of an access or portability request as JSON (R-2, R-6) and complete the request."""
    if lang not in ("en", "de", "nl"):
        fail(f"--lang is en, de or nl, not {lang!r}")
    system = migrated_system_from(config)
    try:
        stored, subject = _verified_request(system, request_id, EXPORTABLE)
        document = system.rights.access_package(subject, lang, stored.id)
        text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                fail(f"cannot write {output}: {exc.strerror}")
        # Completed only once the package was written out.
        _complete(system, stored)
    finally:
        system.close()
    if output is not None:
        err.print(f"request {stored.id}: package written to {output}; request completed", highlight=False)


@rights_app.command("erase")
def rights_erase_command(request_id: IdArgument, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Carry out an erasure request over every declared store (R-4) and complete it; legal holds are kept."""
    system = migrated_system_from(config)
    try:
        stored, subject = _verified_request(system, request_id, frozenset({RequestKind.ERASURE}))
        report = system.rights.erase(subject, stored.id)
        _complete(system, stored)
    finally:
        system.close()
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=1) + "\n")
        return
    for store, rows in sorted(report.erased.items()):
        out.print(f"erased      {store}: {rows} row(s)", highlight=False, markup=False)
    for store, rows in sorted(report.anonymised.items()):
        out.print(f"anonymised  {store}: {rows} row(s)", highlight=False, markup=False)
    for kept in report.kept:
        out.print(f"kept        {kept.store}: {kept.rows} row(s), {kept.why}", highlight=False, markup=False)
    err.print(f"request {stored.id}: erasure carried out; request completed", highlight=False)


@rights_app.command("replay")
def rights_replay_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Erase again every subject in the erasure journal (run after restoring a database from a backup, R-4)."""
    system = migrated_system_from(config)
    try:
        removed = system.rights.replay()
    finally:
        system.close()
    if as_json:
        sys.stdout.write(json.dumps(removed, indent=1) + "\n")
        return
    for store, rows in sorted(removed.items()):
        out.print(f"removed  {store}: {rows} row(s)", highlight=False, markup=False)
    err.print(f"replayed the erasure journal: {sum(removed.values())} row(s) removed", highlight=False)


@rights_app.command("notify-recipients")
def rights_notify_command(config: ConfigOption = None) -> None:
    """Send the due notices of rectifications, erasures and restrictions to recipients now (R-5).

    `serve` does this every minute; the command is for installations that run it from cron.
    """
    system = migrated_system_from(config)
    try:
        report = system.deliver_recipient_notices()
    finally:
        system.close()
    out.print(
        f"delivered {report.delivered}, to retry {report.retried}, failed {report.failed}",
        highlight=False,
        markup=False,
    )
    if report.failed:
        raise typer.Exit(1)
