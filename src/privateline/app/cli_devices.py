"""`privateline devices …` and `privateline firmware …`: factory records and the firmware catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table as RichTable

from privateline.app.cli_common import ConfigOption, err, fail, out, system_from
from privateline.app.migrate import pending
from privateline.app.system import System
from privateline.services.devices import identifiers
from privateline.services.devices.factory_import import FactoryFileError, import_factory_file, single_device
from privateline.services.devices.records import SUBJECT, Device, Service, device_by_number, set_in_service
from privateline.services.devices.reports import report_of
from privateline.services.devices.switches import switch_service
from privateline.services.devices.updates import Firmware, FirmwareError, add_firmware, catalogue
from privateline.storage.audit_log import AuditLog

NumberArgument = Annotated[str, typer.Argument(help="The device's in-network number.")]

devices_app = typer.Typer(help="The device cloud's factory records: import, add, show, disable.", no_args_is_help=True)
firmware_app = typer.Typer(help="The firmware catalogue that update offers come from (DEV-9).", no_args_is_help=True)


def _migrated(config: Path | None) -> System:
    system = system_from(config)
    if pending(system.database):
        system.close()
        fail("the database schema is not up to date: run `privateline migrate` first")
    return system


def _import(system: System, text: Path | None, row: list[str] | None, show_progress: bool) -> int:
    now = system.clock.now()
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not show_progress,
    )
    with progress, system.database.unit_of_work() as uow:
        task = progress.add_task("devices", total=None)
        if text is not None:
            with text.open(encoding="utf-8-sig", newline="") as handle:
                count = import_factory_file(
                    uow.connection,
                    handle,
                    system.settings.sip_realm,
                    now,
                    progress=lambda n: progress.advance(task, n),
                    total=lambda n: progress.update(task, total=n),
                )
        else:
            assert row is not None
            count = import_factory_file(uow.connection, single_device(*row), system.settings.sip_realm, now)
        AuditLog(uow.connection).append(now, "devices.imported", None, {"count": count})
        uow.commit()
    return count


@devices_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV with the header serial,mac,product,number,password.")],
    config: ConfigOption = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Load factory records from the manufacturer's file: all rows, or none if one is bad."""
    if not file.is_file():
        fail(f"{file} is not a file")
    system = _migrated(config)
    try:
        count = _import(system, file, None, progress)
    except FactoryFileError as exc:
        fail(f"{file}: {exc}; nothing was imported")
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text; nothing was imported")
    finally:
        system.close()
    out.print(f"imported {count} device(s) from {file}")


@devices_app.command("add")
def add_command(
    number: Annotated[str, typer.Option(help="In-network number (digits).")],
    serial: Annotated[str, typer.Option(help="Serial or part number.")],
    mac: Annotated[str, typer.Option(help="MAC address, any usual spelling.")],
    product: Annotated[str, typer.Option(help="Product name.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Device password (prompted).")],
    config: ConfigOption = None,
) -> None:
    """Add one device by hand, checked exactly like an imported row."""
    system = _migrated(config)
    try:
        _import(system, None, [serial, mac, product, number, password], show_progress=False)
    except FactoryFileError as exc:
        fail(exc.reason)
    finally:
        system.close()
    out.print(f"added device {number}")


def _find(system: System, number: str) -> Device:
    try:
        wanted = identifiers.normalise_number(number)
    except identifiers.IdentifierError as exc:
        fail(str(exc))
    with system.database.reading() as connection:
        record = device_by_number(connection, wanted)
    if record is None:
        fail(f"no device with number {wanted}")
    return record


@devices_app.command("show")
def show_command(number: NumberArgument, config: ConfigOption = None) -> None:
    """Show a device's factory record, switches and latest report (never its password forms)."""
    system = _migrated(config)
    try:
        record = _find(system, number)
        with system.database.reading() as connection:
            report = report_of(connection, record.id)
    finally:
        system.close()
    table = RichTable(show_header=False)
    rows = [
        ("number", record.number),
        ("serial", record.serial),
        ("MAC", identifiers.display_mac(record.mac)),
        ("product", record.product),
        ("in service", "yes" if record.in_service else "no"),
        ("services", ", ".join(f"{k} {'on' if v else 'off'}" for k, v in record.services().items())),
        ("internal IP", record.internal_ip or "-"),
        ("software", record.software_version or "-"),
        ("passwords", "stored as SIP digest (HA1) and argon2 forms only"),
        ("last report", "-" if report is None else report.reported_at.isoformat()),
    ]
    if report is not None:
        rows += [
            ("private address", f"{report.private_ip}:{report.private_port}"),
            ("device name", report.device_name),
        ]
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)


def _set_service_state(number: str, config: Path | None, in_service: bool) -> None:
    system = _migrated(config)
    try:
        record = _find(system, number)
        now = system.clock.now()
        with system.database.unit_of_work() as uow:
            set_in_service(uow.connection, record.id, in_service)
            AuditLog(uow.connection).append(
                now,
                "device.in_service" if in_service else "device.out_of_service",
                system.pseudonymizer.pseudonym(SUBJECT, record.number),
                {},
            )
            uow.commit()
    finally:
        system.close()
    out.print(f"device {record.number} is {'back in' if in_service else 'out of'} service")


@devices_app.command("disable")
def disable_command(number: NumberArgument, config: ConfigOption = None) -> None:
    """Take a device out of service: it can no longer check in, sign in or use any service."""
    _set_service_state(number, config, False)


@devices_app.command("enable")
def enable_command(number: NumberArgument, config: ConfigOption = None) -> None:
    """Put a device back into service."""
    _set_service_state(number, config, True)


_SWITCH_STATES = {"on": True, "off": False}


@devices_app.command("switch")
def switch_command(
    number: NumberArgument,
    service: Annotated[str, typer.Argument(help="voip, info or messaging.")],
    state: Annotated[str, typer.Argument(help="on or off.")],
    config: ConfigOption = None,
) -> None:
    """Switch one of a device's services on or off (DEV-10); off deletes that service's data at once."""
    # Checked before the database is opened, so a typo never touches the records.
    try:
        chosen = Service(service.strip().lower())
    except ValueError:
        fail(f"unknown service {service!r}: use one of {', '.join(s.value for s in Service)}")
    wanted = _SWITCH_STATES.get(state.strip().lower())
    if wanted is None:
        fail(f"unknown state {state!r}: use on or off")
    system = _migrated(config)
    try:
        record = _find(system, number)
        with system.database.unit_of_work() as uow:
            removed = switch_service(uow.connection, system.pseudonymizer, record, chosen, wanted, system.clock.now())
            uow.commit()
    finally:
        system.close()
    deleted = sum(removed.values())
    suffix = f"; {deleted} row(s) of its data deleted" if deleted else ""
    out.print(f"device {record.number}: {chosen.value} is {'on' if wanted else 'off'}{suffix}")


@firmware_app.command("add")
def firmware_add(
    product: Annotated[str, typer.Option(help="Product name, as in the factory records.")],
    version: Annotated[str, typer.Option(help="Software version.")],
    url: Annotated[str, typer.Option(help="Download address (http or https).")],
    notes_en: Annotated[str, typer.Option(help="Release notes in English.")],
    notes_de: Annotated[str, typer.Option(help="Release notes in German.")],
    notes_nl: Annotated[str, typer.Option(help="Release notes in Dutch.")],
    config: ConfigOption = None,
) -> None:
    """Publish a software version; devices with older software are offered it on check-in."""
    system = _migrated(config)
    try:
        with system.database.unit_of_work() as uow:
            add_firmware(
                uow.connection,
                Firmware(
                    product=identifiers.normalise_product(product),
                    version=version.strip(),
                    url=url.strip(),
                    notes={"en": notes_en, "de": notes_de, "nl": notes_nl},
                    published_at=system.clock.now(),
                ),
            )
            uow.commit()
    except (FirmwareError, identifiers.IdentifierError) as exc:
        fail(str(exc))
    finally:
        system.close()
    out.print(f"published {product} {version}")


@firmware_app.command("list")
def firmware_list(config: ConfigOption = None) -> None:
    """The firmware catalogue, oldest first per product."""
    system = _migrated(config)
    try:
        with system.database.reading() as connection:
            items = catalogue(connection)
    finally:
        system.close()
    table = RichTable("product", "version", "published", "download")
    for item in items:
        table.add_row(item.product, item.version, item.published_at.date().isoformat(), item.url)
    out.print(table)
