"""Benchmark one access export and one erasure of a device owner over full tables (`make bench`).

What it does, in order:

1. Builds, once per backend and size, a database as an instance in service holds it and
   caches it under `bench/.cache/rights/` (a SQLite file, a `pg_dump` of a PostgreSQL
   database): 100,000 devices in the factory records, each with a check-in report, some
   with a nickname, an information profile and an update decision; 1,000,000 rows of the
   website access log (rows of no subject); closed rights requests; and an audit chain of
   several entries for most devices' pseudonyms.  And the same at a tenth of the rows
   (10,000 devices, 100,000 access-log rows).  Rows are inserted directly with the stores'
   tables: the HA1s are computed per device, the portal's argon2 hash is one shared value
   (nothing here signs in, and the rights engine never reads it).
2. For each backend and size, on a fresh copy (a new PostgreSQL database, dropped
   afterwards), times `System.rights.access_package(subject, "en")` for 20 subjects and
   `System.rights.erase(subject)` for 20 others, picked at random, plus subjects with
   2,000 audit entries of their own; records every SQL statement of one export and one
   erasure and EXPLAINs it, so a table scan is caught whatever the timings say.
3. Writes `bench/results/rights.json` and `bench/results/rights.md`; exits 1 when a target
   is missed (export under 200 ms, erasure under 500 ms, at most 2x the time at 10x the
   rows, no scan of a large table), 2 when it cannot run.

Run it with the project's virtual environment: `.venv/bin/python bench/rights/run.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

try:
    import psycopg
    from pydantic import SecretStr
    from sqlalchemy import Connection, Engine, Table, delete, event, func, insert, select

    from privateline.app import migrate
    from privateline.app.config import Settings as AppSettings
    from privateline.app.system import System, build_system
    from privateline.kernel.audit import GENESIS_HASH, AuditEntry, Checkpoint, next_entry
    from privateline.kernel.clock import FakeClock
    from privateline.services.devices.credentials import ha1, password_forms
    from privateline.services.devices.nicknames import voip_nickname
    from privateline.services.devices.profiles import info_profile
    from privateline.services.devices.records import SUBJECT, device, device_by_id
    from privateline.services.devices.reports import device_report, public_network_fingerprint
    from privateline.services.devices.subject import device_subject
    from privateline.services.devices.updates import update_decision
    from privateline.services.privacy.erasure import ErasureReport
    from privateline.services.privacy.held import Subject
    from privateline.services.site.access_log import access_log
    from privateline.storage.audit_log import AuditLog, audit_entry, audit_head
    from privateline.storage.rights_requests import rights_request
except ImportError as exc:  # not the project's virtual environment
    print(f"bench: run this with the project's virtual environment (.venv/bin/python): {exc}", file=sys.stderr)
    sys.exit(2)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / "bench" / ".cache" / "rights"
RESULTS = ROOT / "bench" / "results"

# Bump when the generated data changes, so cached databases are rebuilt.
DATA_VERSION = "1"
SEED = 20241201
REALM = "privateline"  # the default PRIVATELINE_SIP_REALM
# Fixed keys of the benchmark's instances, so the cached audit chain's pseudonyms match.
PSEUDONYM_KEY = "bench-rights-pseudonym-key-not-a-secret-000"
SESSION_KEY = "bench-rights-session-key-not-a-secret-00000"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # the clock of the data and of the measured runs
HEAVY_SUBJECTS = 6  # devices with HEAVY_ENTRIES audit entries of their own: 3 exported, 3 erased
HEAVY_ENTRIES = 2_000
BIG_TABLE_ROWS = 10_000  # a scan of a table at least this big fails the run

TARGET_EXPORT_MS = 200.0
TARGET_ERASE_MS = 500.0
MAX_GROWTH = 2.0  # median at the full size / median at a tenth of the rows; a table scan is ~10
DISTURBED_CORES = 0.3
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
BACKENDS = ("sqlite", "postgresql")


class BenchError(Exception):
    """The benchmark cannot run; the message says why and what to do."""


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


@dataclass(frozen=True)
class Size:
    name: str  # "full" or "tenth"
    devices: int
    access_log: int


@dataclass
class Settings:
    devices: int
    access_per_device: int
    runs: int
    postgres: str
    rebuild: bool
    quiet_wait_s: float


def open_system(data_dir: Path, database_url: str | None) -> System:
    settings = AppSettings(
        data_dir=data_dir,
        database_url=database_url,
        pseudonym_key=SecretStr(PSEUDONYM_KEY),
        session_key=SecretStr(SESSION_KEY),
    )
    return build_system(settings, clock=FakeClock(NOW))


def cache_key(size: Size) -> str:
    """Changes when the schema changes, so a stale database is rebuilt."""
    digest = hashlib.sha256(f"{DATA_VERSION}:{size.devices}:{size.access_log}:{SEED}".encode())
    for path in sorted((ROOT / "src" / "privateline" / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"{size.devices}-{size.access_log}-{digest.hexdigest()[:12]}"


# --- the data -----------------------------------------------------------------------------

CHUNK = 5_000
PRODUCTS = ("Gigaset C430 IP", "Gigaset N300 IP", "Gigaset C530 IP")
VERSIONS = ("41.0", "42.0", "42.1")
PATHS = ("/", "/privacy", "/privacy/center", "/device/portal", "/products", "/support", "/imprint", "/notice")
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
)
CITIES = ("Utrecht", "Berlin", "Amsterdam", "Köln", "München", "Rotterdam", None)
NAMES = ("Kitchen", "Office", "Living room", "Hall", "Gigaset")
NICKNAMES = ("Opa", "Oma", "Büro", "Praxis Dr. Jansen", "Mama", "Werkstatt")
DEVICE_EVENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("device.portal.signed_in", {}),
    ("device.portal.signed_out", {}),
    ("device.portal.nickname_set", {}),
    ("device.portal.profile_saved", {"settings": ["city"]}),
    ("device.update_answered", {"version": "43.0", "decision": "accepted", "via": "device"}),
    ("device.service_switched", {"service": "messaging", "on": False, "removed": {}}),
)
Event = tuple[datetime, str, str | None, dict[str, Any]]


def device_number(i: int) -> str:
    return str(30_000_000 + i)


def heavy_indexes(devices: int) -> list[int]:
    """The devices given HEAVY_ENTRIES audit entries of their own: fixed, spread over the table."""
    return sorted(random.Random(SEED).sample(range(devices), HEAVY_SUBJECTS))  # noqa: S311


class Generator:
    """Writes the generated rows of one size with the stores' tables, in one transaction."""

    def __init__(self, system: System, size: Size) -> None:
        self.system = system
        self.size = size
        self.rng = random.Random(SEED + size.devices)  # noqa: S311 (reproducible data, not secrets)
        self.counts: dict[str, int] = {}
        self.owners: list[tuple[int, str]] = []  # (device id, pseudonym) in device order

    def run(self) -> dict[str, int]:
        started = time.monotonic()
        with self.system.database.unit_of_work() as uow:
            c = uow.connection
            if c.execute(select(func.count()).select_from(audit_entry)).scalar_one():
                raise BenchError("the freshly migrated database already has audit entries")
            self.write(c, device, self.devices())
            ids = dict(c.execute(select(device.c.number, device.c.id)).tuples().all())
            pseudonym = self.system.pseudonymizer.pseudonym
            self.owners = [
                (ids[device_number(i)], pseudonym(SUBJECT, device_number(i))) for i in range(self.size.devices)
            ]
            self.write(c, device_report, self.reports())
            self.write(c, voip_nickname, self.nicknames())
            self.write(c, info_profile, self.profiles())
            self.write(c, update_decision, self.decisions())
            self.write(c, access_log, self.visits())
            requests: list[dict[str, Any]] = []
            events = self.events(requests)
            self.write(c, rights_request, iter(requests))
            head = self.chain(c, events)
            c.execute(delete(audit_head))
            c.execute(
                insert(audit_head).values(id=1, seq=head.seq, hash=head.hash, pruned_seq=0, pruned_hash=GENESIS_HASH)
            )
            uow.commit()
        say(f"  {self.size.devices:,} devices written in {time.monotonic() - started:.0f} s: {self.counts}")
        return self.counts

    def write(self, connection: Connection, table: Table, rows: Iterator[dict[str, Any]]) -> None:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                connection.execute(insert(table), batch)
                self.counts[table.name] = self.counts.get(table.name, 0) + len(batch)
                batch = []
        if batch:
            connection.execute(insert(table), batch)
            self.counts[table.name] = self.counts.get(table.name, 0) + len(batch)

    def devices(self) -> Iterator[dict[str, Any]]:
        shared_portal_hash = password_forms("0", REALM, "bench-shared-portal-password").portal_hash
        rng, n = self.rng, self.size.devices
        for i in range(n):
            number, password = device_number(i), f"pw-{i:08d}"
            yield {
                "number": number,
                "serial": f"RB{i:08d}",
                "mac": f"7C2F81{i:06X}",
                "product": PRODUCTS[i % len(PRODUCTS)],
                "sip_ha1_md5": ha1("md5", number, REALM, password),
                "sip_ha1_sha256": ha1("sha256", number, REALM, password),
                "portal_hash": shared_portal_hash,
                "internal_ip": f"192.168.{i % 250}.{2 + i % 200}",
                "software_version": rng.choice(VERSIONS),
                "voip_on": True,
                "info_on": rng.random() > 0.05,
                "messaging_on": rng.random() > 0.1,
                "in_service": True,
                "created_at": NOW - timedelta(days=400 - i * 300 / n),
            }

    def reports(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for i, (device_id, _) in enumerate(self.owners):
            address = f"198.{51 + (i >> 16) % 50}.{(i >> 8) % 256}.{i % 256}"
            yield {
                "device_id": device_id,
                "reported_at": NOW - timedelta(seconds=rng.uniform(0, 86_400)),
                "private_ip": f"192.168.{i % 250}.{2 + i % 200}",
                "private_port": 5060,
                "public_network": public_network_fingerprint(self.system.pseudonymizer, address),
                "device_name": rng.choice(NAMES),
                "software_version": rng.choice(VERSIONS),
            }

    def nicknames(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for device_id, _ in self.owners:
            if rng.random() < 0.3:
                at = NOW - timedelta(days=rng.uniform(0, 300))
                yield {"device_id": device_id, "nickname": rng.choice(NICKNAMES), "set_at": at}

    def profiles(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for device_id, _ in self.owners:
            if rng.random() < 0.2:
                at = NOW - timedelta(days=rng.uniform(0, 300))
                born = date(1935 + rng.randrange(70), 1 + rng.randrange(12), 1 + rng.randrange(28))
                yield {
                    "device_id": device_id,
                    "city": rng.choice(CITIES),
                    "birth_date": born if rng.random() < 0.5 else None,
                    "created_at": at,
                    "updated_at": at,
                }

    def decisions(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for device_id, _ in self.owners:
            if rng.random() < 0.1:
                yield {
                    "device_id": device_id,
                    "version": "43.0",
                    "decision": rng.choice(("accepted", "declined")),
                    "decided_at": NOW - timedelta(days=rng.uniform(0, 30)),
                }

    def visits(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for _ in range(self.size.access_log):
            yield {
                "at": NOW - timedelta(seconds=rng.uniform(0, 7 * 86_400)),
                "method": "GET" if rng.random() < 0.95 else "POST",
                "path": rng.choice(PATHS),
                "status": rng.choice((200, 200, 200, 200, 304, 404)),
                "bytes": rng.randrange(200, 40_000),
                "referrer": rng.choice((None, "https://www.example.org/", "https://search.example/")),
                "user_agent": rng.choice(AGENTS),
                "client_network": f"203.0.{rng.randrange(256)}.0",
            }

    def when(self) -> datetime:
        return NOW - timedelta(seconds=self.rng.uniform(3_600, 90 * 86_400))

    def events(self, requests: list[dict[str, Any]]) -> list[Event]:
        """What the portal, the phones' update answers, rights requests and the DPO wrote in 90 days."""
        rng = self.rng
        events: list[Event] = []
        for _, pseudonym in self.owners:
            if rng.random() < 0.4:
                continue
            for _ in range(rng.randint(1, 8)):
                kind, detail = rng.choice(DEVICE_EVENTS)
                events.append((self.when(), kind, pseudonym, detail))
            if rng.random() < 0.02:
                events += self.access_request(pseudonym, requests)
        events += [(self.when(), "dpo.signed_in", None, {"by": "dpo:anna"}) for _ in range(self.size.devices // 50)]
        for i in heavy_indexes(self.size.devices):
            for _ in range(HEAVY_ENTRIES):
                kind, detail = rng.choice(DEVICE_EVENTS)
                events.append((self.when(), kind, self.owners[i][1], detail))
        events.sort(key=lambda e: e[0])
        return events

    def access_request(self, pseudonym: str, requests: list[dict[str, Any]]) -> list[Event]:
        """A closed access request, answered two days after it came in."""
        received = self.when() - timedelta(days=2)
        request_id = f"{self.rng.getrandbits(128):032x}"
        requests.append(
            {
                "id": request_id,
                "subject_kind": SUBJECT,
                "subject": pseudonym,
                "kind": "access",
                "state": "completed",
                "received_at": received,
                "due_at": received + timedelta(days=30),
                "reason": None,
                "closed_at": received + timedelta(days=2),
                "detail": {},
            }
        )
        steps = (
            ("rights.received", received),
            ("rights.identity_verified", received + timedelta(hours=1)),
            ("rights.access_exported", received + timedelta(days=2)),
            ("rights.completed", received + timedelta(days=2, seconds=1)),
        )
        return [(at, kind, pseudonym, {"request": request_id}) for kind, at in steps]

    def chain(self, connection: Connection, events: list[Event]) -> AuditEntry | Checkpoint:
        head: AuditEntry | Checkpoint = Checkpoint()

        def entries() -> Iterator[dict[str, Any]]:
            nonlocal head
            for at, kind, subject, detail in events:
                entry = next_entry(head, at, kind, subject, detail)
                head = entry
                yield {
                    "seq": entry.seq,
                    "at": entry.at,
                    "kind": entry.kind,
                    "subject": entry.subject,
                    "detail": dict(entry.detail),
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                }

        self.write(connection, audit_entry, entries())
        return head


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_execute(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())


def pg_admin(settings: Settings, sql: str) -> None:
    pg_execute(settings.postgres + "/postgres", sql)


def pg_reachable(settings: Settings) -> None:
    try:
        with psycopg.connect(settings.postgres + "/postgres", connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        raise BenchError(
            f"PostgreSQL is not reachable at {settings.postgres} ({exc}); start it, pass --postgres URL, "
            "or run with --only sqlite"
        ) from None


# --- load on the machine ------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_cpu_s() -> float:
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:4]]
    return sum(values) / CLOCK_TICKS  # user, nice and system time of every process


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def postgres_cpu_s() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if (entry / "comm").read_text().strip() == "postgres":
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


@dataclass
class Load:
    """CPU seconds so far: the whole machine, this process, every PostgreSQL process."""

    at: float
    machine: float
    own: float
    postgres: float

    @classmethod
    def take(cls) -> Load:
        return cls(time.monotonic(), machine_cpu_s(), self_cpu_s(), postgres_cpu_s())

    def until(self, after: Load) -> dict[str, float]:
        """Average cores busy in between, by whom; `other` is every other process (noise)."""
        wall = max(after.at - self.at, 1e-9)
        own = max(after.own - self.own, 0.0) / wall
        postgres = max(after.postgres - self.postgres, 0.0) / wall  # a backend that exits is not counted
        busy = max(after.machine - self.machine, 0.0) / wall
        return {
            "bench": round(own, 2),
            "postgres": round(postgres, 2),
            "other": round(max(busy - own - postgres, 0.0), 2),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }


def wait_for_quiet(limit_s: float, threshold: float = 0.3) -> float:
    """Wait (at most `limit_s`) until other processes leave the CPUs; the cores they use at the end."""
    deadline = time.monotonic() + limit_s
    announced = False
    while True:
        before = Load.take()
        time.sleep(1.0)
        cores = before.until(Load.take())
        busy = round(cores["other"] + cores["postgres"], 2)
        if busy < threshold or time.monotonic() >= deadline:
            if announced:
                say(f"other processes now use {busy:.2f} cores")
            return busy
        if not announced:
            say(f"other processes use {busy:.2f} cores; waiting up to {limit_s:.0f} s for a quieter machine")
            announced = True


# --- one measured database ----------------------------------------------------------------


def summary(samples_ms: list[float]) -> dict[str, Any]:
    ordered = sorted(samples_ms)
    return {
        "runs": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
        "max_ms": round(ordered[-1], 2),
        "min_ms": round(ordered[0], 2),
        "samples_ms": [round(x, 2) for x in samples_ms],
    }


@contextlib.contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the engine sends while the block runs (parameters None for executemany)."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        seen.append((statement, None if executemany else parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def scanned_table(line: str, sqlite: bool) -> str | None:
    words = line.replace("(", " ").split()
    if sqlite:
        return words[1] if words[:1] == ["SCAN"] and len(words) > 1 else None
    return line.split("Seq Scan on", 1)[1].split(maxsplit=1)[0] if "Seq Scan on" in line else None


def explain(system: System, captured: list[tuple[str, Any]], big: set[str]) -> dict[str, Any]:
    """The plan of every read, update and delete sent; the scans of a table of BIG_TABLE_ROWS or more."""
    sqlite = system.database.dialect == "sqlite"
    plans: list[dict[str, Any]] = []
    scans: list[str] = []
    with system.database.engine.connect() as connection:
        for statement, parameters in captured:
            verb = statement.lstrip().split(None, 1)[0].upper()
            if verb not in ("SELECT", "UPDATE", "DELETE", "WITH") or parameters is None:
                continue  # inserts of VALUES scan nothing
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            lines = [str(r[-1] if sqlite else r[0]) for r in connection.exec_driver_sql(prefix + statement, parameters)]
            sql = " ".join(statement.split())
            scans += [f"{t}: {sql[:200]}" for t in (scanned_table(x, sqlite) for x in lines) if t in big]
            plans.append({"sql": sql, "plan": lines})
        connection.rollback()
    return {"statements": len(captured), "explained": plans, "scans_of_big_tables": scans}


def table_rows(system: System) -> dict[str, int]:
    with system.database.reading() as connection:
        return {
            t.name: int(connection.execute(select(func.count()).select_from(t)).scalar_one()) for t in system.tables
        }


def held_rows(package: dict[str, Any]) -> int:
    return sum(len(store["rows"]) for store in package["stores"])


def erased_rows(report: ErasureReport) -> int:
    return sum(report.erased.values()) + sum(report.anonymised.values()) + sum(k.rows for k in report.kept)


@dataclass
class Subjects:
    first_export: Subject
    first_erase: Subject
    exported: list[Subject]
    erased: list[Subject]
    heavy_exported: list[Subject]
    heavy_erased: list[Subject]


def pick_subjects(system: System, size: Size, runs: int) -> Subjects:
    """At random over the whole table (the same on both backends), and the heavy subjects apart."""
    with system.database.reading() as connection:
        numbers = dict(connection.execute(select(device.c.id, device.c.number)).tuples().all())
        by_pseudonym = {system.pseudonymizer.pseudonym(SUBJECT, n): i for i, n in numbers.items()}
        heavy = [
            by_pseudonym[p]
            for (p,) in connection.execute(
                select(audit_entry.c.subject)
                .where(audit_entry.c.subject.is_not(None))
                .group_by(audit_entry.c.subject)
                .having(func.count() >= HEAVY_ENTRIES)
                .order_by(audit_entry.c.subject)
            )
        ]
    if len(heavy) != HEAVY_SUBJECTS:
        raise BenchError(f"expected {HEAVY_SUBJECTS} subjects with {HEAVY_ENTRIES:,} audit entries, found {len(heavy)}")
    rng = random.Random(SEED + size.devices)  # noqa: S311
    picked = rng.sample(sorted(set(numbers) - set(heavy)), 2 * runs + 2)

    def subject(device_id: int) -> Subject:
        with system.database.reading() as connection:
            record = device_by_id(connection, device_id)
        assert record is not None
        return device_subject(record, system.pseudonymizer)

    half = HEAVY_SUBJECTS // 2
    return Subjects(
        subject(picked[0]),
        subject(picked[1]),
        [subject(i) for i in picked[2 : 2 + runs]],
        [subject(i) for i in picked[2 + runs :]],
        [subject(i) for i in heavy[:half]],
        [subject(i) for i in heavy[half:]],
    )


def timed(system: System, call: Callable[[], Any]) -> tuple[float, Any]:
    assert isinstance(system.clock, FakeClock)
    system.clock.advance(timedelta(seconds=1))
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def export_series(system: System, subjects: list[Subject]) -> tuple[list[float], list[int]]:
    times, rows = [], []
    for subject in subjects:
        ms, package = timed(system, lambda s=subject: system.rights.access_package(s, "en"))  # type: ignore[misc]
        stores = {s["store"] for s in package["stores"] if s["rows"]}
        if not {"device", "device_report"} <= stores:
            raise BenchError(f"the export of device {subject.key} lacks its device or report: {sorted(stores)}")
        times.append(ms)
        rows.append(held_rows(package))
    return times, rows


def erase_series(system: System, subjects: list[Subject]) -> tuple[list[float], list[int]]:
    times, rows = [], []
    for subject in subjects:
        ms, report = timed(system, lambda s=subject: system.rights.erase(s))  # type: ignore[misc]
        if report.erased.get("device_report") != 1 or report.anonymised.get("device") != 1:
            raise BenchError(f"the erasure of device {subject.key} did not erase its data: {report.as_json()}")
        times.append(ms)
        rows.append(erased_rows(report))
    return times, rows


@dataclass
class Prepared:
    """One size's database, opened, with its subjects and what is collected from it."""

    size: Size
    system: System
    setup_s: float
    rows: dict[str, int]
    subjects: Subjects
    samples: dict[str, list[float]] = field(default_factory=dict)
    held: dict[str, list[int]] = field(default_factory=dict)
    export_sql: list[tuple[str, Any]] = field(default_factory=list)
    erase_sql: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, series: str, times: list[float], rows: list[int]) -> None:
        self.samples.setdefault(series, []).extend(times)
        self.held.setdefault(series, []).extend(rows)


def measure(prepared: list[Prepared], settings: Settings) -> tuple[dict[str, Any], dict[str, float]]:
    """Runs every series on all sizes at once, alternating between them, so that load from
    other processes falls on every size alike and the ratio between them shows the growth."""
    busy_before = wait_for_quiet(settings.quiet_wait_s)
    load_before = Load.take()
    for p in prepared:
        # The first of each is timed apart (caches filling); its statements are EXPLAINed afterwards.
        with statements(p.system.database.engine) as p.export_sql:
            p.add("first_export", *export_series(p.system, [p.subjects.first_export]))
        with statements(p.system.database.engine) as p.erase_sql:
            p.add("first_erase", *erase_series(p.system, [p.subjects.first_erase]))
    plan: list[tuple[str, Callable[[Prepared], list[Subject]], Any]] = [
        ("export", lambda p: p.subjects.exported, export_series),
        ("erase", lambda p: p.subjects.erased, erase_series),
        ("heavy_export", lambda p: p.subjects.heavy_exported, export_series),
        ("heavy_erase", lambda p: p.subjects.heavy_erased, erase_series),
    ]
    for series, subjects_of, run in plan:
        for i in range(len(subjects_of(prepared[0]))):
            for p in prepared if i % 2 == 0 else prepared[::-1]:
                p.add(series, *run(p.system, [subjects_of(p)[i]]))
    load = load_before.until(Load.take())
    results: dict[str, Any] = {}
    for p in prepared:
        with p.system.database.reading() as connection:
            verification = AuditLog(connection).verify()
        if not verification.intact:
            raise BenchError(f"the audit chain is broken after the run: {verification.reason}")
        big = {name for name, n in p.rows.items() if n >= BIG_TABLE_ROWS}
        s, h = p.samples, p.held
        results[p.size.name] = {
            "devices": p.size.devices,
            "access_log_rows": p.size.access_log,
            "table_rows": p.rows,
            "setup_s": round(p.setup_s, 1),
            "export": {
                **summary(s["export"]),
                "first_ms": round(s["first_export"][0], 2),
                "rows_held_median": statistics.median(h["export"]),
            },
            "erase": {
                **summary(s["erase"]),
                "first_ms": round(s["first_erase"][0], 2),
                "rows_median": statistics.median(h["erase"]),
            },
            "heavy_subject": {
                "audit_entries": HEAVY_ENTRIES,
                "export": {**summary(s["heavy_export"]), "rows_held_median": statistics.median(h["heavy_export"])},
                "erase": summary(s["heavy_erase"]),
            },
            "sql": {
                "export": explain(p.system, p.export_sql, big),
                "erase": explain(p.system, p.erase_sql, big),
            },
            "audit_chain_verified_entries": verification.checked,
        }
    return results, {"busy_before_cores": busy_before, **load}


@contextlib.contextmanager
def sqlite_database(size: Size, settings: Settings, work: Path) -> Iterator[Prepared]:
    """A fresh copy of the cached SQLite database of this size (built first when missing)."""
    template = CACHE / f"sqlite-{cache_key(size)}"
    if not template.exists():
        say(f"building the SQLite database ({size.devices:,} devices) in {template.relative_to(ROOT)}")
        building = template.with_name(template.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        system = open_system(building, None)
        try:
            migrate.upgrade(system.database)
            Generator(system, size).run()
        finally:
            system.close()
        building.rename(template)
    started = time.monotonic()
    data_dir = work / f"sqlite-{size.name}"
    shutil.copytree(template, data_dir)
    system = open_system(data_dir, None)
    try:
        if migrate.pending(system.database):
            raise BenchError("the cached SQLite database is not at the newest migration; run with --rebuild")
        yield Prepared(size, system, time.monotonic() - started, table_rows(system), pick(system, size, settings))
    finally:
        system.close()


@contextlib.contextmanager
def postgresql_database(size: Size, settings: Settings, work: Path) -> Iterator[Prepared]:
    """A new PostgreSQL database restored from the cached dump of this size (built first when
    missing), dropped afterwards."""
    template = CACHE / f"postgresql-{cache_key(size)}"
    dump = template / "rights.pgdump"
    database = f"privateline_bench_rights_{os.getpid()}_{size.name}"
    url = f"{settings.postgres}/{database}"
    data_dir = work / f"postgresql-{size.name}"
    data_dir.mkdir()
    started = time.monotonic()
    pg_admin(settings, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    pg_admin(settings, f'CREATE DATABASE "{database}"')
    try:
        if dump.exists():
            restored = subprocess.run(
                ["pg_restore", "--no-owner", "--jobs", "2", "--dbname", url, str(dump)],
                capture_output=True,
                text=True,
                check=False,
            )
            if restored.returncode != 0:
                raise BenchError(f"pg_restore failed:\n{restored.stderr}")
        else:
            say(f"building the PostgreSQL database ({size.devices:,} devices)")
            system = open_system(data_dir, url)
            try:
                migrate.upgrade(system.database)
                Generator(system, size).run()
            finally:
                system.close()
            save_dump(template, url)
        pg_execute(url, "ANALYZE")  # restored tables have no statistics; a database in service has them
        system = open_system(data_dir, url)
        try:
            if migrate.pending(system.database):
                raise BenchError("the cached PostgreSQL dump is not at the newest migration; run with --rebuild")
            yield Prepared(size, system, time.monotonic() - started, table_rows(system), pick(system, size, settings))
        finally:
            system.close()
    finally:
        pg_admin(settings, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def pick(system: System, size: Size, settings: Settings) -> Subjects:
    return pick_subjects(system, size, settings.runs)


def run_backend(backend: str, sizes: list[Size], settings: Settings, work: Path) -> dict[str, Any]:
    opened = sqlite_database if backend == "sqlite" else postgresql_database
    with contextlib.ExitStack() as stack:
        prepared = [stack.enter_context(opened(size, settings, work)) for size in sizes]
        server_version = None
        if backend == "postgresql":
            with prepared[0].system.database.reading() as connection:
                server_version = str(connection.exec_driver_sql("SHOW server_version").scalar_one())
        say(f"{backend}: measuring {', '.join(f'{p.size.devices:,}' for p in prepared)} devices, alternating")
        by_size, cores = measure(prepared, settings)
    if backend == "sqlite":  # PostgreSQL then serves other clients only: it is other load
        cores["other"] = round(cores["other"] + cores.pop("postgres"), 2)
    for name, r in by_size.items():
        say(
            f"{backend}, {r['devices']:,} devices ({name}): export median {r['export']['median_ms']:.1f} ms "
            f"(max {r['export']['max_ms']:.1f}), erasure median {r['erase']['median_ms']:.1f} ms "
            f"(max {r['erase']['max_ms']:.1f})"
        )
    say(f"{backend}: cores busy meanwhile: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items()))
    result: dict[str, Any] = {"sizes": by_size, "cores": cores, **judge(by_size)}
    if server_version is not None:
        result["server_version"] = server_version
    return result


def save_dump(template: Path, url: str) -> None:
    if shutil.which("pg_dump") is None:
        say("pg_dump is not installed: the PostgreSQL database is not cached (the next run builds it again)")
        return
    building = template.with_name(template.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    dumped = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", str(building / "rights.pgdump"), "--dbname", url],
        capture_output=True,
        text=True,
        check=False,
    )
    if dumped.returncode != 0:
        say(f"pg_dump failed, the PostgreSQL database is not cached:\n{dumped.stderr}")
        shutil.rmtree(building, ignore_errors=True)
        return
    building.rename(template)


# --- the report ---------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": memory,
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for package in ("privateline", "SQLAlchemy", "psycopg", "alembic"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    if commit.returncode == 0:
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        found["privateline_commit"] = commit.stdout.strip() + (" (src/ has uncommitted changes)" if dirty else "")
    return found


def judge(by_size: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Targets of one backend: times at every size, growth from a tenth to the full size, no scans."""
    targets: dict[str, bool] = {}
    for name, r in by_size.items():
        targets[f"export_under_{TARGET_EXPORT_MS:.0f}ms_{name}"] = r["export"]["median_ms"] < TARGET_EXPORT_MS
        targets[f"erase_under_{TARGET_ERASE_MS:.0f}ms_{name}"] = r["erase"]["median_ms"] < TARGET_ERASE_MS
        scans = r["sql"]["export"]["scans_of_big_tables"] + r["sql"]["erase"]["scans_of_big_tables"]
        targets[f"no_scan_of_a_big_table_{name}"] = not scans
    growth: dict[str, float] = {}
    if "full" in by_size and "tenth" in by_size:
        for op in ("export", "erase"):
            growth[op] = round(by_size["full"][op]["median_ms"] / by_size["tenth"][op]["median_ms"], 2)
            targets[f"{op}_growth_under_{MAX_GROWTH:g}x"] = growth[op] < MAX_GROWTH
    max_within = {
        f"{op}_max_under_target_{name}": r[op]["max_ms"] < limit
        for name, r in by_size.items()
        for op, limit in (("export", TARGET_EXPORT_MS), ("erase", TARGET_ERASE_MS))
    }
    return {"growth_full_vs_tenth": growth, "targets": targets, "max_within_target": max_within}


def yes(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**NO**")


def markdown(report: dict[str, Any]) -> str:
    m, v, s = report["machine"], report["versions"], report["settings"]
    lines = [
        "# Rights benchmark: one access export and one erasure of a device owner",
        "",
        f"- date: {report['date']}",
        f"- machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}; "
        f"load average at start {', '.join(str(x) for x in m['loadavg_at_start'])}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- data: {s['devices']:,} devices (each with a check-in report; ~30% a nickname, ~20% an information "
        f"profile, ~10% an update decision), {s['devices'] * s['access_log_per_device']:,} access-log rows, an audit "
        "chain of 1 to 8 entries for 60% of the devices' pseudonyms, ~2% with a closed access request and its "
        f"transitions, the DPO's sign-ins, and {HEAVY_SUBJECTS} devices with {HEAVY_ENTRIES:,} entries each; "
        "and the same at a tenth of the rows (table sizes below)",
        f'- measured: `System.rights.access_package(subject, "en")` for {s["runs"]} subjects and '
        f"`System.rights.erase(subject)` for {s['runs']} others, picked at random, in-process, wall time; "
        "the first call of each is shown apart (caches filling)",
        f"- targets: export under {TARGET_EXPORT_MS:.0f} ms and erasure under {TARGET_ERASE_MS:.0f} ms (median), "
        f"at most {MAX_GROWTH:g}x the time at 10x the rows, no scan of a table of {BIG_TABLE_ROWS:,} rows or more "
        "in the EXPLAINed statements",
        "",
        "| backend | devices | access log | audit entries | export median ms | export max ms | erasure median ms "
        "| erasure max ms | first export / erasure ms | statements export / erasure |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, result in report["results"].items():
        for name in ("tenth", "full"):
            r = result["sizes"].get(name)
            if r is None:
                continue
            lines.append(
                f"| {backend} | {r['devices']:,} | {r['access_log_rows']:,} | {r['table_rows']['audit_entry']:,} | "
                f"{r['export']['median_ms']:.1f} | {r['export']['max_ms']:.1f} | {r['erase']['median_ms']:.1f} | "
                f"{r['erase']['max_ms']:.1f} | {r['export']['first_ms']:.0f} / {r['erase']['first_ms']:.0f} | "
                f"{r['sql']['export']['statements']} / {r['sql']['erase']['statements']} |"
            )
    lines += [
        "",
        "Growth with the table sizes (median at the full size / median at a tenth of the rows) and with the "
        f"subject's own data (a subject with {HEAVY_ENTRIES:,} audit entries of their own, against the random "
        "subjects' median):",
        "",
        "| backend | export: 10x rows | erasure: 10x rows | rows held per subject (median) "
        f"| export, {HEAVY_ENTRIES:,} entries: ms (rows) | erasure, {HEAVY_ENTRIES:,} entries: ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for backend, result in report["results"].items():
        g = result["growth_full_vs_tenth"]
        r = result["sizes"].get("full") or next(iter(result["sizes"].values()))
        h = r["heavy_subject"]
        lines.append(
            f"| {backend} | {g.get('export', '-')} | {g.get('erase', '-')} | {r['export']['rows_held_median']:g} | "
            f"{h['export']['median_ms']:.1f} ({h['export']['rows_held_median']:g}) | {h['erase']['median_ms']:.1f} |"
        )
    lines += [
        "",
        "CPU while each backend's series ran, both sizes alternating (average cores of the 2: this process, "
        "every PostgreSQL process when measuring PostgreSQL, every other process on the machine), and the "
        "1-minute load average at the end:",
        "",
    ]
    for backend, result in report["results"].items():
        c = result["cores"]
        postgres = f", postgres {c['postgres']:.2f}" if "postgres" in c else ""
        lines.append(
            f"- {backend}: bench {c['bench']:.2f}{postgres}, other {c['other']:.2f}, load average "
            f"{c['loadavg_1m']:.2f} (other processes just before: {c['busy_before_cores']:.2f} cores)"
        )
    disturbed = [
        f"{b} ({res['cores']['other']:.2f} cores)"
        for b, res in report["results"].items()
        if res["cores"]["other"] > DISTURBED_CORES
    ]
    if disturbed:
        lines += [
            "",
            "**Caution:** other processes (other benchmarks and test suites) shared the CPUs during "
            + ", ".join(disturbed)
            + "; the times are higher than on a quiet machine, their maxima most of all.  Both sizes ran "
            "alternately, so such load falls on both alike on average, but it still adds spread: a ratio "
            "somewhat above 1 is noise when the EXPLAINed plans show no scan.",
        ]
    lines += ["", "Targets:", ""]
    for backend, result in report["results"].items():
        parts = ", ".join(f"{k.replace('_', ' ')}: {yes(ok)}" for k, ok in result["targets"].items())
        lines.append(f"- {backend}: {parts}")
        scans = [
            scan
            for r in result["sizes"].values()
            for op in ("export", "erase")
            for scan in r["sql"][op]["scans_of_big_tables"]
        ]
        for scan in scans:
            lines.append(f"  - scan: `{scan}`")
        slow_max = [k for k, ok in result["max_within_target"].items() if not ok]
        if slow_max:
            lines.append("  - above the target at their maximum (not judged): " + ", ".join(slow_max))
    lines += ["", f"**Result: {'all targets met' if report['passed'] else 'targets NOT met'}.**", ""]
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> tuple[Settings, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=100_000, help="devices at the full size (default 100,000)")
    parser.add_argument("--access-log-per-device", type=int, default=10, help="access-log rows per device (default 10)")
    parser.add_argument("--runs", type=int, default=20, help="exports and erasures measured per size (default 20)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES", DEFAULT_POSTGRES),
        help=f"PostgreSQL server URL without a database (default $BENCH_POSTGRES or {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--only", default=",".join(BACKENDS), help="comma-separated: sqlite,postgresql")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached databases")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="seconds to wait at most, before each series, for other processes to leave the CPUs (default 60)",
    )
    args = parser.parse_args(argv)
    only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = [b for b in only if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(unknown)}")
    if args.runs < 1 or args.devices // 10 < 2 * args.runs + 2 + HEAVY_SUBJECTS:
        parser.error("--devices must leave, at a tenth, more devices than the subjects measured (2 x --runs + 8)")
    settings = Settings(
        devices=args.devices,
        access_per_device=args.access_log_per_device,
        runs=args.runs,
        postgres=args.postgres.rstrip("/"),
        rebuild=args.rebuild,
        quiet_wait_s=args.quiet_wait,
    )
    return settings, only


def main(argv: list[str] | None = None) -> int:
    settings, only = parse(argv)
    for name in [k for k in os.environ if k.startswith("PRIVATELINE_")]:
        del os.environ[name]  # the instances here are configured by this script alone
    if "postgresql" in only:
        pg_reachable(settings)
    sizes = [
        Size("tenth", settings.devices // 10, settings.devices // 10 * settings.access_per_device),
        Size("full", settings.devices, settings.devices * settings.access_per_device),
    ]
    CACHE.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        key = cache_key(size)
        for backend in BACKENDS:
            for path in CACHE.glob(f"{backend}-{size.devices}-{size.access_log}-*"):
                if path.is_dir() and (settings.rebuild or path.name != f"{backend}-{key}"):
                    shutil.rmtree(path, ignore_errors=True)  # older schema, unfinished build, or --rebuild

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rights-") as tmp:
        work = Path(tmp)
        for backend in only:
            results[backend] = run_backend(backend, sizes, settings, work)

    passed = all(all(r["targets"].values()) for r in results.values())
    report: dict[str, Any] = {
        "benchmark": "System.rights.access_package and System.rights.erase",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "settings": {
            "devices": settings.devices,
            "access_log_per_device": settings.access_per_device,
            "runs": settings.runs,
            "sizes": [vars(s) for s in sizes],
            "backends": only,
            "seed": SEED,
        },
        "targets": {
            "export_median_ms": TARGET_EXPORT_MS,
            "erase_median_ms": TARGET_ERASE_MS,
            "max_growth_at_10x_rows": MAX_GROWTH,
            "no_scan_of_tables_from_rows": BIG_TABLE_ROWS,
        },
        "results": results,
        "passed": passed,
    }
    # Only a full run (both backends, the work order's sizes) replaces bench/results/.
    full = set(only) == set(BACKENDS) and settings.devices == 100_000 and settings.access_per_device == 10
    out = RESULTS if full and settings.runs >= 20 else CACHE / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "rights.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    text = markdown(report)
    (out / "rights.md").write_text(text)
    print()
    print(text)
    say(f"wrote {(out / 'rights.json').relative_to(ROOT)} and {(out / 'rights.md').relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        say(str(exc))
        sys.exit(2)
