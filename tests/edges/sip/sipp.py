"""Running SIPp scenarios (tests/edges/sip/sipp/*.xml) against a SIP server in its own process.

`run` starts SIPp as a subprocess with `-m` calls and a global `-timeout`, its statistics
(`-trace_stat`), unexpected messages (`-trace_err`) and message log (`-trace_msg`) going to a
directory of the caller's; SIPp's exit code says 0 "every call succeeded" and 1 "some failed"
(`man sipp`, EXIT STATUS), and the counts come from the last row of its statistics file.
`SippRun.check()` fails the test with the error log and the end of the message log.

The servers the scenarios run against, each a real process on a port of its own:

- `PrivatelineSip`: `privateline serve --role sip` on a fresh data directory (SQLite: the server
  is another process, so the test's PostgreSQL fixtures do not reach it), provisioned with the
  `privateline devices` commands;
- `KamailioReference`: Kamailio with bench/sip/kamailio/kamailio.cfg, the registrar the
  scenarios were developed on.  `PRIVATELINE_SIP_REFERENCE=kamailio` runs the tests against it
  to tell a scenario's mistake from the server's.

Waiting is done on events, never on fixed sleeps: the server's "SIP is listening" line, a UDP
port showing up as bound in /proc/net/udp (Kamailio, a SIPp UAS that must be up before the
call starts), SIPp's own exit.
"""

from __future__ import annotations

import csv
import hashlib
import os
import queue
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import pytest

from tests.ports import free_port
from tests.processes import stop_process

SCENARIOS = Path(__file__).parent / "sipp"
REPOSITORY = Path(__file__).resolve().parents[3]
KAMAILIO_CFG = REPOSITORY / "bench" / "sip" / "kamailio" / "kamailio.cfg"
KAMAILIO_SCHEMA = Path("/usr/share/kamailio/db_sqlite")
REALM = "privateline"
HOST = "127.0.0.1"
REFERENCE_ENV = "PRIVATELINE_SIP_REFERENCE"


def require(program: str, package: str) -> str:
    """The program's path; a missing one fails the test (CI installs it: .ci/run), it is never skipped."""
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is not installed: `apt-get install {package}` (.ci/run installs it)", pytrace=False)
    return found


def _udp_bound(port: int) -> bool:
    wanted = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(line.split()[1].endswith(wanted) for line in lines if len(line.split()) > 1):
            return True
    return False


def wait_udp_bound(port: int, process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 15) -> None:
    """Until some process has bound UDP `port` (read from /proc, so the port is never taken from it)."""
    deadline = time.monotonic() + timeout
    while not _udp_bound(port):
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited with {process.returncode} before binding UDP port {port}")
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing bound UDP port {port} within {timeout} s")
        time.sleep(0.01)  # a poll interval, not a synchronisation: the loop waits for the condition


# -- SIPp -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SippRun:
    scenario: str
    returncode: int
    successful: int
    failed: int
    errors: str
    messages: str
    screen: str

    def check(self, calls: int = 1) -> None:
        """Every call of the run succeeded, else an assertion naming what SIPp saw."""
        if self.returncode == 0 and self.successful == calls and self.failed == 0:
            return
        raise AssertionError(self.describe(f"expected {calls} successful call(s)"))

    def describe(self, wanted: str) -> str:
        hint = ""
        if "createAuthHeader" in self.errors:
            # SIPp 3.6 computes MD5 (and AKA) digests only, from the first challenge field.
            hint = "hint: SIPp answers only an MD5 challenge, and only when it is the first one offered\n"
        return hint + (
            f"SIPp scenario {self.scenario}: {wanted}, got exit code {self.returncode} "
            f"({EXIT_CODES.get(self.returncode, 'unknown')}), {self.successful} successful, {self.failed} failed\n"
            f"--- error log ---\n{self.errors.strip() or '(empty)'}\n"
            f"--- last messages ---\n{self.messages[-6000:].strip() or '(none)'}\n"
            f"--- SIPp output ---\n{self.screen[-3000:].strip()}"
        )


# man sipp, EXIT STATUS
EXIT_CODES = {
    0: "all calls successful",
    1: "at least one call failed",
    97: "exit on internal command",
    99: "normal exit without calls processed",
    255: "fatal error",
    254: "fatal error binding a socket",
}


def auth(number: str, password: str) -> str:
    """The injection field that answers a challenge as `number` (SIPp expands the keyword in it)."""
    return f"[authentication username={number} password={password}]"


def write_injection(path: Path, rows: Iterable[Sequence[str]]) -> Path:
    """A SIPp injection file (-inf): SEQUENTIAL, then one call's fields a line, `;`-separated."""
    with path.open("w", encoding="ascii") as handle:
        handle.write("SEQUENTIAL\n")
        for row in rows:
            handle.write(";".join(row) + "\n")
    return path


def _stat_counts(stat_file: Path) -> tuple[int, int]:
    """SuccessfulCall(C) and FailedCall(C) of the last statistics row (`sipp -h stat`)."""
    try:
        rows = list(csv.reader(stat_file.read_text().splitlines(), delimiter=";"))
    except OSError:
        return 0, 0
    if len(rows) < 2:
        return 0, 0
    header, last = rows[0], rows[-1]
    values = dict(zip(header, last, strict=False))
    return int(values.get("SuccessfulCall(C)", 0) or 0), int(values.get("FailedCall(C)", 0) or 0)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


class SippProcess:
    """A SIPp run in the background (a UAS waiting for the call); `finish()` waits for its exit."""

    def __init__(self, scenario: str, args: list[str], workdir: Path, timeout: float) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.timeout = timeout
        self._screen = (workdir / "screen.log").open("w+b")
        self.process = subprocess.Popen(
            args, cwd=workdir, stdin=subprocess.DEVNULL, stdout=self._screen, stderr=subprocess.STDOUT
        )

    def finish(self) -> SippRun:
        try:
            returncode = self.process.wait(timeout=self.timeout + 15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            returncode = self.process.wait()
        self._screen.seek(0)
        screen = self._screen.read().decode(errors="replace")
        self._screen.close()
        successful, failed = _stat_counts(self.workdir / "stat.csv")
        return SippRun(
            scenario=self.scenario,
            returncode=returncode,
            successful=successful,
            failed=failed,
            errors=_read(self.workdir / "errors.log"),
            messages=_read(self.workdir / "messages.log"),
            screen=screen,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if not self._screen.closed:
            self._screen.close()


def start(
    scenario: str,
    server_port: int,
    workdir: Path,
    *,
    calls: int = 1,
    timeout: float = 20,
    injection: Path | None = None,
    local_port: int | None = None,
    server_mode: bool = False,
    auth_uri: str | None = None,
    extra: Sequence[str] = (),
) -> SippProcess:
    """Start SIPp on `scenario` (a file name in tests/edges/sip/sipp/) against 127.0.0.1:server_port."""
    sipp = require("sipp", "sip-tester")
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        sipp,
        *([] if server_mode else [f"{HOST}:{server_port}"]),
        "-sf",
        str(SCENARIOS / scenario),
        "-i",
        HOST,
        "-bind_local",
        "-m",
        str(calls),
        "-timeout",
        f"{timeout:g}s",
        "-timeout_error",
        "-nostdin",
        "-trace_stat",
        "-stf",
        str(workdir / "stat.csv"),
        "-trace_err",
        "-error_file",
        str(workdir / "errors.log"),
        "-trace_msg",
        "-message_file",
        str(workdir / "messages.log"),
        # The remote-control socket would collide between SIPp processes run side by side.
        "-cp",
        str(free_port()),
    ]
    # SIPp would take 5060 when free: never share a port between runs side by side.
    args += ["-p", str(local_port if local_port is not None else free_port())]
    if injection is not None:
        args += ["-inf", str(injection)]
    if auth_uri is not None:
        # SIPp's digest-uri is remote_ip:remote_port unless told; RFC 2617 §3.2.2.5 wants the
        # Request-URI, which for an INVITE names the called number.
        args += ["-auth_uri", auth_uri]
    args += list(extra)
    return SippProcess(scenario, args, workdir, timeout)


def run(scenario: str, server_port: int, workdir: Path, **options: object) -> SippRun:
    """Run SIPp to its end (see `start` for the options)."""
    process = start(scenario, server_port, workdir, **options)  # type: ignore[arg-type]
    return process.finish()


# -- the servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscriber:
    number: str
    password: str
    voip: bool = True


class SipServer(Protocol):
    port: int

    def provision(self, subscribers: Sequence[Subscriber]) -> None: ...

    def switch_voip(self, number: str, *, on: bool) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def output(self) -> str: ...


def _ha1(user: str, password: str) -> str:
    return hashlib.md5(f"{user}:{REALM}:{password}".encode()).hexdigest()  # noqa: S324 - RFC 2617 §3.2.2.2


@dataclass
class _Output:
    """A process's merged output, read by a thread so that it never blocks on a full pipe."""

    lines: list[str] = field(default_factory=list)
    seen: queue.Queue[str] = field(default_factory=queue.Queue)
    _stream: IO[str] | None = None
    _pump: threading.Thread | None = None

    def follow(self, stream: IO[str]) -> None:
        def pump() -> None:
            for line in stream:
                self.lines.append(line)
                self.seen.put(line)
            self.seen.put("")

        self._stream = stream
        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()

    def close(self) -> None:
        """After the process ended: the rest of its output, then the pipe closed."""
        if self._pump is not None:
            self._pump.join(timeout=10)
        if self._stream is not None:
            self._stream.close()

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line with {pattern!r} within {timeout} s:\n" + "".join(self.lines))
            try:
                line = self.seen.get(timeout=left)
            except queue.Empty:
                continue
            if line == "":
                raise AssertionError(f"the process ended before printing {pattern!r}:\n" + "".join(self.lines))
            if pattern in line:
                return line


class PrivatelineSip:
    """`privateline serve --role sip` on 127.0.0.1:port with its own data directory."""

    def __init__(self, root: Path, port: int | None = None, settings: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.data_dir = root / "var"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVATELINE_")}
        self.env.update(PRIVATELINE_DATA_DIR=str(self.data_dir), PRIVATELINE_LOG_LEVEL="warning")
        self.env.update(settings or {})
        self.process: subprocess.Popen[str] | None = None
        self._output = _Output()

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "privateline", *args]

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            self.command(*args), env=self.env, capture_output=True, text=True, timeout=300, check=False
        )
        if result.returncode != 0:
            raise AssertionError(
                f"privateline {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def provision(self, subscribers: Sequence[Subscriber]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.cli("migrate")
        factory = self.root / "factory.csv"
        with factory.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["serial", "mac", "product", "number", "password"])
            for i, s in enumerate(subscribers):
                writer.writerow(
                    [f"SIPP{i:06d}", f"02:53:49:50:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}", "SIPp", s.number, s.password]
                )
        self.cli("devices", "import", str(factory), "--no-progress")
        for s in subscribers:
            if not s.voip:
                self.switch_voip(s.number, on=False)

    def switch_voip(self, number: str, *, on: bool) -> None:
        """The operator's switch (DEV-10), with the server running: it must take effect at once."""
        self.cli("devices", "switch", number, "voip", "on" if on else "off")

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command("serve", "--role", "sip", "--sip-port", str(self.port), "--migrate"),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        self._output.follow(self.process.stdout)
        try:
            line = self._output.wait_for("SIP is listening", timeout=60)
        except AssertionError:
            self.stop()
            raise
        found = re.search(r"udp 127\.0\.0\.1:(\d+)", line)
        if found is not None and int(found.group(1)) != self.port:
            raise AssertionError(f"asked for port {self.port}, the server says: {line}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=30)
        self._output.close()

    def output(self) -> str:
        return "".join(self._output.lines)


class KamailioReference:
    """Kamailio on bench/sip/kamailio/kamailio.cfg, bindings in memory, as a known-good registrar."""

    def __init__(self, root: Path, port: int | None = None, *, write_through: bool = False) -> None:
        self.root = root
        self.port = port or free_port()
        self.database = root / "kamailio.sqlite"
        self.write_through = write_through
        self.process: subprocess.Popen[str] | None = None
        self._output = _Output()

    def provision(self, subscribers: Sequence[Subscriber]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        create_kamailio_database(self.database, subscribers)

    def switch_voip(self, number: str, *, on: bool) -> None:
        # auth_db reads the subscriber row on every request, so a change counts at once.
        with sqlite3.connect(self.database) as connection:
            connection.execute("UPDATE subscriber SET voip_on = ? WHERE username = ?", (int(on), number))

    def start(self) -> None:
        kamailio = require("kamailio", "kamailio kamailio-sqlite-modules")
        rundir = self.root / "run"
        rundir.mkdir(exist_ok=True)
        args = [kamailio, "-f", str(KAMAILIO_CFG), "-DD", "-E", "-Y", str(rundir), "-P", str(rundir / "pid")]
        args += ["-l", f"udp:{HOST}:{self.port}", "-A", f'DBURL="sqlite://{self.database}"']
        if self.write_through:
            args += ["-A", "WRITE_THROUGH"]
        self.process = subprocess.Popen(
            args, cwd=self.root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.process.stdout is not None
        self._output.follow(self.process.stdout)
        try:
            wait_udp_bound(self.port, self.process)
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"{exc}\n{self.output()}") from None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=15)
        self._output.close()

    def output(self) -> str:
        return "".join(self._output.lines)


def create_kamailio_database(path: Path, subscribers: Iterable[Subscriber]) -> None:
    """Kamailio's own tables from the Debian package's schema files, plus `voip_on` (the DEV-10 switch)."""
    if not KAMAILIO_SCHEMA.is_dir():
        pytest.fail(f"{KAMAILIO_SCHEMA} is missing: `apt-get install kamailio-sqlite-modules`", pytrace=False)
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")  # kept in the file; see kamailio.cfg
        for name in ("standard-create.sql", "auth_db-create.sql", "usrloc-create.sql"):
            connection.executescript((KAMAILIO_SCHEMA / name).read_text())
        connection.execute("ALTER TABLE subscriber ADD COLUMN voip_on INTEGER DEFAULT 1 NOT NULL")
        connection.executemany(
            "INSERT INTO subscriber (username, domain, ha1, ha1b, voip_on) VALUES (?, ?, ?, ?, ?)",
            (
                # ha1b is the HA1 of a username that carries the domain (user@domain), as
                # Kamailio's auth_db expects next to the plain one.
                (s.number, HOST, _ha1(s.number, s.password), _ha1(f"{s.number}@{HOST}", s.password), int(s.voip))
                for s in subscribers
            ),
        )
        connection.commit()
    finally:
        connection.close()


def server_under_test(root: Path, settings: Mapping[str, str] | None = None) -> SipServer:
    """The privateline SIP server (with `settings`, PRIVATELINE_* variables), or the Kamailio
    reference when PRIVATELINE_SIP_REFERENCE=kamailio."""
    if os.environ.get(REFERENCE_ENV, "").lower() == "kamailio":
        return KamailioReference(root / "kamailio")
    return PrivatelineSip(root / "privateline", settings=settings)
