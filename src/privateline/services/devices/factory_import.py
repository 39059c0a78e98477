"""Loading factory records from the manufacturer's file (DEV-2).

The file is CSV with the header `serial,mac,product,number,password`.  It is read and
checked completely before anything is written: a bad row (wrong field, duplicate
number, serial or MAC in the file or already in service) is reported with its line
number and reason and **nothing** of that file is imported.  Then the password forms
are computed (in parallel: argon2 is the slow part) and all rows are written in one
transaction.  The clear-text passwords exist only in memory while this runs.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Connection, select

from privateline.services.devices import identifiers
from privateline.services.devices.credentials import PasswordError, check_password_shape, password_forms
from privateline.services.devices.records import device, insert_devices

HEADER = ("serial", "mac", "product", "number", "password")
CHUNK = 500


class FactoryFileError(ValueError):
    """The file cannot be imported; `line` is the 1-based line of the first bad row."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class FactoryRow:
    line: int
    serial: str
    mac: str
    product: str
    number: str
    password: str

    def __repr__(self) -> str:  # never print a password, not even in a traceback
        return f"FactoryRow(line={self.line}, number={self.number!r})"


def read_factory_file(text: TextIO) -> list[FactoryRow]:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise FactoryFileError(1, "the file is empty; expected the header " + ",".join(HEADER)) from None
    except csv.Error as exc:
        raise FactoryFileError(1, f"not CSV: {exc}") from None
    if tuple(h.strip().lower() for h in header) != HEADER:
        raise FactoryFileError(1, "the header must be exactly " + ",".join(HEADER))
    rows: list[FactoryRow] = []
    seen: dict[str, dict[str, int]] = {"serial": {}, "mac": {}, "number": {}}
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != len(HEADER):
                raise FactoryFileError(line, f"expected {len(HEADER)} fields, found {len(fields)}")
            row = _row(line, fields)
            for key in ("serial", "mac", "number"):
                value = getattr(row, key)
                if value in seen[key]:
                    raise FactoryFileError(line, f"{key} {value} already appears on line {seen[key][value]}")
                seen[key][value] = line
            rows.append(row)
    except csv.Error as exc:
        raise FactoryFileError(reader.line_num, f"not CSV: {exc}") from None
    return rows


def _row(line: int, fields: list[str]) -> FactoryRow:
    serial, mac, product, number, password = fields
    try:
        row = FactoryRow(
            line=line,
            serial=identifiers.normalise_serial(serial),
            mac=identifiers.normalise_mac(mac),
            product=identifiers.normalise_product(product),
            number=identifiers.normalise_number(number),
            password=password,
        )
        check_password_shape(password)
    except (identifiers.IdentifierError, PasswordError) as exc:
        raise FactoryFileError(line, str(exc)) from None
    return row


def check_against_stored(connection: Connection, rows: list[FactoryRow]) -> None:
    """Refuse rows whose number, serial or MAC belongs to a device already in the records."""
    for key in ("number", "serial", "mac"):
        column = device.c[key]
        wanted = {getattr(r, key): r.line for r in rows}
        values = list(wanted)
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            taken = connection.execute(select(column).where(column.in_(chunk))).scalars().first()
            if taken is not None:
                raise FactoryFileError(wanted[taken], f"{key} {taken} belongs to a device already in the records")


def _forms(args: tuple[str, str, str]) -> tuple[str, str, str]:
    number, realm, password = args
    forms = password_forms(number, realm, password)
    return forms.ha1_md5, forms.ha1_sha256, forms.portal_hash


def device_rows(
    rows: list[FactoryRow], realm: str, now: datetime, progress: Callable[[int], None] | None = None
) -> Iterable[dict[str, Any]]:
    """The rows to insert, password forms computed on every core."""
    workers = max(1, min(os.cpu_count() or 1, 8))
    jobs = ((r.number, realm, r.password) for r in rows)

    def build(row: FactoryRow, forms: tuple[str, str, str]) -> dict[str, Any]:
        md5, sha256, portal = forms
        return {
            "number": row.number,
            "serial": row.serial,
            "mac": row.mac,
            "product": row.product,
            "sip_ha1_md5": md5,
            "sip_ha1_sha256": sha256,
            "portal_hash": portal,
            "internal_ip": None,
            "software_version": None,
            "voip_on": True,
            "info_on": True,
            "messaging_on": True,
            "in_service": True,
            "created_at": now,
        }

    if len(rows) < 200 or workers == 1:
        for row in rows:
            yield build(row, _forms((row.number, realm, row.password)))
            if progress:
                progress(1)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for row, forms in zip(rows, pool.map(_forms, jobs, chunksize=256), strict=True):
            yield build(row, forms)
            if progress:
                progress(1)


def import_factory_file(
    connection: Connection,
    text: TextIO,
    realm: str,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> int:
    """Import a whole file into the caller's transaction; raises FactoryFileError before writing anything."""
    rows = read_factory_file(text)
    check_against_stored(connection, rows)
    if total:
        total(len(rows))
    batch: list[dict[str, Any]] = []
    for item in device_rows(rows, realm, now, progress):
        batch.append(item)
        if len(batch) >= CHUNK:
            insert_devices(connection, batch)
            batch = []
    insert_devices(connection, batch)
    return len(rows)


def single_device(serial: str, mac: str, product: str, number: str, password: str) -> io.StringIO:
    """One device as a factory file, so `devices add` checks exactly what an import checks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerow([serial, mac, product, number, password])
    buffer.seek(0)
    return buffer
