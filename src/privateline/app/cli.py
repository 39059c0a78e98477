"""The `privateline` command.

Exit codes: 0 success; 1 the command ran and found a problem (check failed, audit
chain broken, a promise broken); 2 bad input (usage, configuration, register).
"""

from __future__ import annotations

import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from privateline.app import migrate as migrations
from privateline.app.cli_common import ConfigOption, err, fail, out, settings_from, system_from
from privateline.app.cli_devices import devices_app, firmware_app
from privateline.app.cli_dpo import dpo_app
from privateline.app.cli_rights import rights_app
from privateline.app.promises import DEFAULT_REPORT, catalogue, read_report, statuses
from privateline.app.serve import Role, StartRefusedError, serve
from privateline.register.loader import RegisterError, load_register
from privateline.register.notice import PublishedVersion, notice_view, render_notice
from privateline.register.ropa import render_ropa
from privateline.storage.audit_log import AuditLog
from privateline.storage.notice_versions import NoticeVersions

app = typer.Typer(
    help="privateline: a device cloud, customer service and website whose privacy notice is enforced by code.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
audit_app = typer.Typer(help="The hash-chained audit log of privacy-relevant events.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(devices_app, name="devices")
app.add_typer(firmware_app, name="firmware")
app.add_typer(dpo_app, name="dpo")
app.add_typer(rights_app, name="rights")


class Lang(StrEnum):
    en = "en"
    de = "de"
    nl = "nl"


class NoticeFormat(StrEnum):
    html = "html"
    md = "md"


class RopaFormat(StrEnum):
    csv = "csv"
    json = "json"


@app.command("serve")
def serve_command(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    http_port: Annotated[int | None, typer.Option(help="HTTP port (default 8080; 0 picks a free one).")] = None,
    run_migrations: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Bring the database schema up to date first.")
    ] = False,
    role: Annotated[Role, typer.Option(help="Serve everything, or only the HTTP or the SIP part.")] = Role.all,
    sip_port: Annotated[
        int | None, typer.Option(help="SIP port for UDP and TCP (default 5060; 0 picks a free one).", min=0, max=65535)
    ] = None,
) -> None:
    """Run the whole system: HTTP (privacy notice, services), SIP (registrar and proxy),
    access log, retention sweeps.

    Refuses to start when `privateline check` fails or the schema is not migrated.
    """
    system = system_from(config, host=host, http_port=http_port)
    try:
        serve(
            system,
            system.settings.host,
            system.settings.http_port,
            run_migrations=run_migrations,
            role=role,
            sip_port=sip_port,
        )
    except StartRefusedError as exc:
        fail(f"refusing to start: {exc}", code=1)
    except OSError as exc:
        fail(f"cannot listen: {exc.strerror or exc}", code=1)
    finally:
        system.close()


@app.command("migrate")
def migrate_command(
    config: ConfigOption = None,
    new: Annotated[str | None, typer.Option(help="Developers: write a new migration from the declared tables.")] = None,
) -> None:
    """Create or upgrade the database schema (the schema is created only by migrations)."""
    system = system_from(config)
    try:
        if new:
            migrations.new_revision(system.database, new)
        else:
            migrations.upgrade(system.database)
            out.print(f"database is up to date ({system.database.dialect})")
    finally:
        system.close()


@app.command("check")
def check_command(config: ConfigOption = None) -> None:
    """Compare the declared stores with the register and the database schema.

    Fails (exit 1), naming table and column, when a column holds a category the register
    does not declare, a declared store is missing, or an activity with a retention rule
    has no store to sweep.
    """
    system = system_from(config)
    try:
        report = system.check()
    finally:
        system.close()
    for note in report.notes:
        out.print(f"[dim]note:[/] {note}", highlight=False)
    if report.passed:
        out.print(f"check passed: register {system.loaded.version}, {len(system.tables)} declared tables")
        return
    for problem in report.problems:
        err.print(f"[red]problem:[/] {problem}", highlight=False)
    err.print(f"check failed: {len(report.problems)} problem(s)")
    raise typer.Exit(1)


@app.command("notice")
def notice_command(
    config: ConfigOption = None,
    lang: Annotated[Lang, typer.Option(help="Language of the notice.")] = Lang.en,
    fmt: Annotated[NoticeFormat, typer.Option("--format", help="html or md (Markdown).")] = NoticeFormat.html,
) -> None:
    """Print the privacy notice rendered from the register."""
    system = system_from(config)
    try:
        history = []
        if not migrations.pending(system.database):
            with system.database.reading() as connection:
                history = [PublishedVersion(v.version, v.published_at) for v in NoticeVersions(connection).history()]
    finally:
        system.close()
    view = notice_view(system.loaded.register, system.loaded.version, lang.value, history)
    sys.stdout.write(render_notice(view, fmt.value))


@app.command("ropa")
def ropa_command(
    config: ConfigOption = None,
    fmt: Annotated[RopaFormat, typer.Option("--format", help="csv or json.")] = RopaFormat.csv,
) -> None:
    """Export the records of processing activities (GDPR Art. 30)."""
    settings = settings_from(config)
    try:
        loaded = load_register(settings.register_path)
    except RegisterError as exc:
        fail(exc.describe())
    sys.stdout.write(render_ropa(loaded.register, loaded.version, fmt.value))


@app.command("sweep")
def sweep_command(config: ConfigOption = None) -> None:
    """Delete what has outlived its retention period now (serve also does this on a schedule)."""
    system = system_from(config)
    try:
        results = system.sweep()
    finally:
        system.close()
    for r in results:
        out.print(f"{r.store}: removed {r.removed} row(s) older than {r.cutoff.isoformat()} ({r.activity})")
    if not results:
        out.print("nothing to sweep")


@audit_app.command("verify")
def audit_verify(config: ConfigOption = None) -> None:
    """Check the audit chain; report the first entry that was changed, removed or reordered."""
    system = system_from(config)
    try:
        with system.database.reading() as connection:
            result = AuditLog(connection).verify()
    finally:
        system.close()
    if result.intact:
        out.print(f"audit chain intact: {result.checked} entries, head {result.head.seq} {result.head.hash}")
        return
    err.print(f"audit chain BROKEN at entry {result.broken_at}: {result.reason}", highlight=False)
    err.print(f"{result.checked} entries before it verified")
    raise typer.Exit(1)


@app.command("promises")
def promises_command(
    report: Annotated[Path, typer.Option(help="The report written by the test run.")] = DEFAULT_REPORT,
    run: Annotated[bool, typer.Option("--run", help="Run the promise tests first (needs the source tree).")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
) -> None:
    """Show every promise of the privacy notice as kept, not applicable, open or broken."""
    if run:
        code = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", "-m", "promise", "-p", "no:randomly"],
            env=None,
        )
        if code not in (0, 1):
            fail(f"the test run did not complete (pytest exit code {code})", code=1)
    test_report = read_report(report)
    rows = statuses(catalogue(), test_report)
    if test_report is None:
        err.print(f"no test report at {report}: run `make test` or `privateline promises --run`")
    if markdown:
        out.print("| id | promise | state | tests or reason |\n|---|---|---|---|", highlight=False)
        for s in rows:
            why = s.promise.not_applicable or ", ".join(f"`{t}`" for t in s.passed + s.failed) or ""
            out.print(f"| {s.promise.id} | {s.promise.title} | {s.state} | {why} |", highlight=False, soft_wrap=True)
    else:
        table = RichTable(title=f"Promises (tests of {test_report.generated_at if test_report else 'no run'})")
        for column in ("id", "promise", "state", "tests or reason"):
            table.add_column(column, overflow="fold")
        colour = {"kept": "green", "not applicable": "blue", "open": "yellow", "broken": "red"}
        for s in rows:
            # One line per test function; its SQLite/PostgreSQL and language variants are folded together.
            tests = dict.fromkeys(t.split("[", 1)[0] for t in s.failed + s.passed)
            detail = s.promise.not_applicable or "\n".join(tests)
            table.add_row(s.promise.id, s.promise.title, f"[{colour[s.state]}]{s.state}[/]", detail)
        out.print(table)
    counts = {state: sum(1 for s in rows if s.state == state) for state in ("kept", "not applicable", "open", "broken")}
    out.print(", ".join(f"{n} {state}" for state, n in counts.items()))
    if counts["broken"]:
        raise typer.Exit(1)


def main() -> None:
    app()
