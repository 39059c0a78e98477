"""Benchmark the SIP registrar and proxy against Kamailio, in one run (`make bench`).

What it does, in order:

1. Generates 10,000 subscribers (number, password) once and caches them under
   `bench/.cache/sip/`: a factory CSV imported into a privateline SQLite data directory with
   `privateline devices import` (HA1s computed at import), and a Kamailio SQLite database
   (Kamailio's own `subscriber`, `location` and `version` tables from the Debian package's
   schema files, `ha1`/`ha1b` for the same realm, plus privateline's `voip_on` switch).
2. For each server: Kamailio with bindings in memory (usrloc db_mode 0), Kamailio writing
   every binding through to SQLite (db_mode 1), both with bench/sip/kamailio/kamailio.cfg and
   2 worker processes, then privateline (`privateline serve --role sip`, one process):
   starts it on a fresh copy of its data, then measures with SIPp on this machine
   (a) REGISTER-with-challenge cycles per second (REGISTER, 401, REGISTER with
       Authorization, 200) over the 10,000 users, and
   (b) complete calls per second (INVITE, 407, ACK, INVITE with Proxy-Authorization, 100,
       180, 200, ACK, BYE, 200) from SIPp UACs to registered SIPp UASs, the callers taken
       from the 10,000 users,
   each at the highest rate with under 0.1% failed calls: the rate is doubled until a point
   fails, then bisected; every point runs `--duration` seconds.
3. Writes `bench/results/sip.json` and `bench/results/sip.md` (other settings than the
   defaults: `bench/.cache/sip/results/`), and exits 1 when a target is missed, 2 when it
   cannot run.

The SIPp scenarios are the tests' (tests/edges/sip/sipp/): register.xml, uac.xml, uas.xml.
SIPp's digest-uri is `-auth_uri` (the Request-URI of the INVITE, RFC 2617 §3.2.2.5), one
value per SIPp process, so every UAC calls one UAS: `--pairs` UAC/UAS pairs share the rate.

Run it with the project's virtual environment: `.venv/bin/python bench/sip/run.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / "bench" / ".cache" / "sip"
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
SCENARIOS = ROOT / "tests" / "edges" / "sip" / "sipp"
KAMAILIO_CFG = HERE / "kamailio" / "kamailio.cfg"
KAMAILIO_SCHEMA = Path("/usr/share/kamailio/db_sqlite")
HOST = "127.0.0.1"
REALM = "privateline"  # the default PRIVATELINE_SIP_REALM; the HA1s depend on it
DATA_VERSION = "1"
FIRST_NUMBER = 4_000_000

SERVERS = ("kamailio-memory", "kamailio-db", "privateline")
SIPP_BUFFER = 4 * 1024 * 1024  # bytes of socket buffer per SIPp socket (capped by net.core.rmem_max)
MAX_FAILURE_RATIO = 0.001  # "under 0.1% failures"
MAX_OVERRUN = 0.1  # a point counts only when its calls were done within 10% (+1 s) of its length
# Targets: privateline at least half of Kamailio in memory for both workloads, and at least
# Kamailio writing through to SQLite for registrations.
TARGET_VS_MEMORY = 0.5
TARGET_REG_VS_DB = 1.0


class BenchError(Exception):
    """The benchmark cannot run; the message says why and what to do."""


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


# --- the data -----------------------------------------------------------------------------


def subscriber(i: int) -> tuple[str, str]:
    return str(FIRST_NUMBER + i), f"sip-pw-{i:06d}"


def ha1(user: str, password: str) -> str:
    return hashlib.md5(f"{user}:{REALM}:{password}".encode()).hexdigest()  # noqa: S324 - RFC 2617 §3.2.2.2


def migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "privateline").glob("**/migrations/versions/*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def write_factory_csv(count: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["serial", "mac", "product", "number", "password"])
        for i in range(count):
            number, password = subscriber(i)
            mac = f"02:51:50:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}"
            writer.writerow([f"BENCH{i:07d}", mac, "SIPp bench", number, password])


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVATELINE_")}
    env["PRIVATELINE_DATA_DIR"] = str(data_dir)
    env["PRIVATELINE_LOG_LEVEL"] = "warning"
    return env


def privateline(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([str(BIN / "privateline"), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"`privateline {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def build_privateline_template(directory: Path, csv_path: Path) -> None:
    say(f"importing {csv_path.name} into a privateline data directory (argon2 per device: a while)")
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    env = server_env(partial)
    privateline(["migrate"], env)
    privateline(["devices", "import", str(csv_path), "--no-progress"], env)
    partial.rename(directory)


def build_kamailio_database(path: Path, count: int) -> None:
    if not KAMAILIO_SCHEMA.is_dir():
        raise BenchError(f"{KAMAILIO_SCHEMA} is missing: `apt-get install kamailio-sqlite-modules`")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    connection = sqlite3.connect(partial)
    try:
        # Kept in the file: Kamailio's two workers then read while one writes (kamailio.cfg).
        connection.execute("PRAGMA journal_mode=WAL")
        for name in ("standard-create.sql", "auth_db-create.sql", "usrloc-create.sql"):
            connection.executescript((KAMAILIO_SCHEMA / name).read_text())
        connection.execute("ALTER TABLE subscriber ADD COLUMN voip_on INTEGER DEFAULT 1 NOT NULL")
        rows = []
        for i in range(count):
            number, password = subscriber(i)
            # ha1b: the HA1 for a username that carries the domain, which auth_db also accepts.
            rows.append((number, HOST, ha1(number, password), ha1(f"{number}@{HOST}", password)))
        connection.executemany("INSERT INTO subscriber (username, domain, ha1, ha1b) VALUES (?, ?, ?, ?)", rows)
        connection.commit()
    finally:
        connection.close()
    partial.rename(path)


def write_injection(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="ascii") as handle:
        handle.write("SEQUENTIAL\n")
        for row in rows:
            handle.write(";".join(row) + "\n")
    return path


def auth(number: str, password: str) -> str:
    return f"[authentication username={number} password={password}]"


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
            return port


def udp_bound(port: int) -> bool:
    wanted = f":{port:04X}"
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 1 and fields[1].endswith(wanted):
                return True
    return False


def wait_bound(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not udp_bound(port):
        if process.poll() is not None:
            raise BenchError(f"{log.stem} exited with {process.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise BenchError(f"nothing bound UDP {port} within {timeout:.0f} s:\n{tail(log)}")
        time.sleep(0.01)  # polls the condition; no fixed wait


def wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise BenchError(f"the server exited with {process.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise BenchError(f"the server did not say {text!r} within {timeout:.0f} s:\n{tail(log)}")
        time.sleep(0.05)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def head(path: Path, lines: int = 16) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[:lines])
    except OSError:
        return "(no log)"


def tree_cpu_s(pid: int) -> float:
    """utime + stime of a process and its children (Kamailio's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            this, parent = int(stat.parent.name), int(fields[1])
            if pid in (this, parent):
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


IDLE_CPU = 0.05  # a server is idle below this share of a core ...
IDLE_WAIT_S = 45.0  # ... or after this long: 64*T1 (Timer J, RFC 3261 §17.2.2) and a margin


def wait_until_idle(server: Server) -> None:
    """Wait until `server` is idle (under `IDLE_CPU` over a second, at most `IDLE_WAIT_S`), before
    a point.  After an overloaded point a server still works through its backlog (the
    retransmissions SIPp sent, Timer J and Timer C expiries); a point that started then would
    measure that backlog, for every server alike, not the rate."""
    started = time.monotonic()
    before = tree_cpu_s(server.process.pid)
    while time.monotonic() - started < IDLE_WAIT_S:
        time.sleep(1.0)
        now = tree_cpu_s(server.process.pid)
        if now - before < IDLE_CPU:
            break
        before = now


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def kamailio(name: str, database: Path, work: Path, write_through: bool) -> Iterator[Server]:
    binary = shutil.which("kamailio")
    if binary is None:
        raise BenchError("kamailio is not installed: `apt-get install kamailio kamailio-sqlite-modules`")
    run_dir = work / name
    run_dir.mkdir()
    copy = run_dir / "kamailio.sqlite"
    shutil.copy(database, copy)
    port = free_port()
    args = [binary, "-f", str(KAMAILIO_CFG), "-DD", "-E", "-Y", str(run_dir), "-P", str(run_dir / "kamailio.pid")]
    args += ["-m", "256", "-M", "16", "-l", f"udp:{HOST}:{port}", "-A", f'DBURL="sqlite://{copy}"']
    if write_through:
        args += ["-A", "WRITE_THROUGH"]
    log = run_dir / "kamailio.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=run_dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, port, process, log)
    try:
        wait_bound(port, process, log)
        yield server
    finally:
        stop(server, signal.SIGTERM)


@contextlib.contextmanager
def privateline_sip(template: Path, work: Path) -> Iterator[Server]:
    data = work / "privateline"
    shutil.copytree(template, data)
    port = free_port()
    log = work / "privateline.log"
    command = [str(BIN / "privateline"), "serve", "--role", "sip", "--sip-port", str(port), "--migrate"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=server_env(data), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server("privateline", port, process, log)
    try:
        wait_for_line(log, "SIP is listening", process)
        yield server
    finally:
        stop(server, signal.SIGTERM)


def stop(server: Server, how: signal.Signals) -> None:
    if server.process.poll() is None:
        server.process.send_signal(how)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            say(f"{server.name} did not stop within 30 s; killing it")
            server.process.kill()
            server.process.wait()


# --- SIPp ---------------------------------------------------------------------------------


@dataclass
class Point:
    """One SIPp run at one offered rate (calls per second, summed over the UACs)."""

    rate: float
    seconds: float
    attempted: int
    successful: int
    failed: int
    achieved_per_s: float
    failure_ratio: float
    server_cpu_s: float
    ok: bool
    errors: str = ""


def scenario_file(scenario: str, work: Path) -> Path:
    """The tests' scenario; for calls under load the 180 may come after the 200.

    The proxy's workers forward the UAS's 180 and 200, sent back to back over UDP, each on
    its own; RFC 3261 §17.1.1.2 lets the 2xx end the client transaction whatever came
    before, so under load the 180 is optional (a late one counts as a retransmission).
    """
    source = SCENARIOS / scenario
    if scenario != "uac.xml":
        return source
    loaded = work / "uac-load.xml"
    if not loaded.exists():
        text = source.read_text()
        assert '<recv response="180"/>' in text
        loaded.write_text(text.replace('<recv response="180"/>', '<recv response="180" optional="true"/>'))
    return loaded


def sipp_args(
    scenario: str, server: Server, work: Path, tag: str, extra: list[str], *, port: int | None = None, uas: bool = False
) -> list[str]:
    sipp = shutil.which("sipp")
    assert sipp is not None
    return [
        sipp,
        *([] if uas else [f"{HOST}:{server.port}"]),
        "-sf",
        str(scenario_file(scenario, work)),
        "-i",
        HOST,
        "-bind_local",
        "-p",
        str(port if port is not None else free_port()),
        "-cp",
        str(free_port()),
        "-nostdin",
        "-trace_stat",
        "-stf",
        str(work / f"{tag}.stat.csv"),
        "-trace_err",
        "-error_file",
        str(work / f"{tag}.errors.log"),
        # One SIPp socket stands for thousands of phones, each of which would have its own.
        # SIPp's default buffers (-buff_size 65535) overflow when a server answers a batch
        # at once (seen: thousands of drops in SIPp's socket, none in the server's, with the
        # server at 80 % of a core), and the lost answers then count against the server.
        "-buff_size",
        str(SIPP_BUFFER),
        *extra,
    ]


def stat_counts(path: Path) -> tuple[int, int, int]:
    """OutgoingCall(C), SuccessfulCall(C), FailedCall(C) of the last row of a SIPp statistics file."""
    try:
        rows = list(csv.reader(path.read_text().splitlines(), delimiter=";"))
    except OSError:
        return 0, 0, 0
    if len(rows) < 2:
        return 0, 0, 0
    values = dict(zip(rows[0], rows[-1], strict=False))

    def number(key: str) -> int:
        with contextlib.suppress(ValueError):
            return int(values.get(key, "0") or 0)
        return 0

    return number("OutgoingCall(C)"), number("SuccessfulCall(C)"), number("FailedCall(C)")


def measure(
    server: Server,
    scenario: str,
    runs: list[tuple[Path, str | None]],
    rate: float,
    seconds: float,
    work: Path,
    *,
    port: int | None = None,
) -> Point:
    """SIPp UACs together at `rate`, each with its injection file (and -auth_uri), for `seconds`;
    `port` fixes the local port of a single UAC (otherwise each takes a free one)."""
    work.mkdir(parents=True, exist_ok=True)
    share = rate / len(runs)
    calls = max(1, round(share * seconds))
    processes = []
    cpu_before = tree_cpu_s(server.process.pid)
    started = time.monotonic()
    for i, (injection, auth_uri) in enumerate(runs):
        extra = ["-inf", str(injection), "-r", f"{share:.3f}", "-rp", "1000", "-m", str(calls)]
        # A call not answered within 5 s counts as failed (SIPp's own retransmissions go on
        # inside that time, RFC 3261 §17.1.1.2); the run ends at the latest 30 s after it should.
        extra += ["-recv_timeout", "5000", "-timeout", f"{seconds + 30:.0f}s", "-l", str(max(100, int(share * 10)))]
        if auth_uri is not None:
            extra += ["-auth_uri", auth_uri]
        args = sipp_args(scenario, server, work, f"uac{i}", extra, port=port if len(runs) == 1 else None)
        with (work / f"uac{i}.screen.log").open("wb") as out:
            processes.append(subprocess.Popen(args, cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=out))
    for process in processes:
        process.wait()
    elapsed = time.monotonic() - started
    cpu = tree_cpu_s(server.process.pid) - cpu_before
    attempted = successful = failed = 0
    errors = ""
    for i in range(len(runs)):
        _created, good, bad = stat_counts(work / f"uac{i}.stat.csv")
        attempted += calls  # calls SIPp never got to create count as failed too
        successful += good
        failed += bad
        if good < calls:
            errors += head(work / f"uac{i}.errors.log", 16) + "\n"
    ratio = 1 - successful / attempted if attempted else 1.0
    achieved = successful / elapsed if elapsed > 0 else 0.0
    # The rate held: under 0.1% failed, and the run ended close to its schedule (a server
    # that falls behind answers late, so the last calls finish well after `seconds`).
    ok = ratio < MAX_FAILURE_RATIO and elapsed <= seconds * (1 + MAX_OVERRUN) + 1.0
    return Point(
        rate=round(rate, 1),
        seconds=round(elapsed, 2),
        attempted=attempted,
        successful=successful,
        failed=max(failed, attempted - successful),
        achieved_per_s=round(achieved, 1),
        failure_ratio=round(ratio, 5),
        server_cpu_s=round(cpu, 2),
        ok=ok,
        errors=errors.strip()[-2000:],
    )


@dataclass
class Search:
    workload: str
    best: Point | None = None
    points: list[Point] = field(default_factory=list)
    error: str = ""


def search(workload: str, start: float, settings: Settings, run_at: Callable[[float], Point]) -> Search:
    """Double the rate until a point fails, then bisect between the last good and first bad point."""
    found = Search(workload)

    def attempt(rate: float) -> Point:
        point = run_at(rate)
        found.points.append(point)
        verdict = "ok" if point.ok else "FAILED"
        say(
            f"  {workload} at {rate:,.0f}/s: {point.successful:,}/{point.attempted:,} in {point.seconds:.1f} s "
            f"({point.achieved_per_s:,.0f}/s, failures {point.failure_ratio:.3%}) {verdict}"
        )
        return point

    good: Point | None = None
    bad: Point | None = None
    rate = start
    while len(found.points) < settings.max_points:
        point = attempt(rate)
        if point.ok:
            good = point
            if bad is not None:
                break
            rate *= 2
        else:
            bad = point
            if good is not None:
                break
            rate /= 2
            if rate < settings.min_rate:
                break
    while good is not None and bad is not None and len(found.points) < settings.max_points:
        if bad.rate <= good.rate * (1 + settings.precision):
            break
        point = attempt((good.rate + bad.rate) / 2)
        if point.ok:
            good = point
        else:
            bad = point
    found.best = good
    return found


def register_uas(server: Server, number: str, password: str, port: int, work: Path) -> None:
    """One UAS's number registered from the port it will listen on (the binding's source)."""
    injection = write_injection(work / f"reg-{number}.csv", [[number, auth(number, password)]])
    extra = ["-inf", str(injection), "-m", "1", "-timeout", "20s", "-timeout_error"]
    args = sipp_args("register.xml", server, work, f"reg-{number}", extra, port=port)
    done = subprocess.run(args, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if done.returncode != 0:
        raise BenchError(
            f"registering the UAS {number} with {server.name} failed ({done.returncode}):\n"
            f"{tail(work / f'reg-{number}.errors.log')}"
        )


@contextlib.contextmanager
def answering(server: Server, settings: Settings, work: Path, ports: list[int]) -> Iterator[list[tuple[str, int]]]:
    """`pairs` SIPp UASs on `ports`, each registered as a subscriber of its own, answering every call."""
    work.mkdir(parents=True, exist_ok=True)
    phones: list[tuple[str, int]] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for pair in range(settings.pairs):
            number, password = subscriber(settings.subscribers - 1 - pair)  # callees at the end
            port = ports[pair]
            register_uas(server, number, password, port, work)
            args = sipp_args("uas.xml", server, work, f"uas{pair}", ["-timeout", "3600s"], port=port, uas=True)
            log = work / f"uas{pair}.screen.log"
            with log.open("wb") as out:
                process = subprocess.Popen(args, cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            processes.append(process)
            wait_bound(port, process, log)
            phones.append((number, port))
        yield phones
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def callers(settings: Settings, pair: int, callee: str) -> list[list[str]]:
    rows = []
    for i in range(pair, settings.subscribers - settings.pairs, settings.pairs):
        number, password = subscriber(i)
        rows.append([number, auth(number, password), callee])
    return rows


def bench_server(server: Server, settings: Settings, work: Path) -> dict[str, Any]:
    say(f"{server.name}: registrations")
    users = [[n, auth(n, p)] for n, p in (subscriber(i) for i in range(settings.subscribers))]
    register_file = write_injection(work / "register.csv", users)
    counter = iter(range(1000))
    # Every point registers from the same port, so each phone's Contact is the same one and a
    # point refreshes the bindings of the one before (RFC 3261 §10.3 step 7) rather than adding
    # one more per phone and point, as a phone refreshing its registration does.
    register_port = free_port()

    def register_at(rate: float) -> Point:
        wait_until_idle(server)
        return measure(
            server,
            "register.xml",
            [(register_file, None)],
            rate,
            settings.duration,
            work / f"reg-{next(counter)}",
            port=register_port,
        )

    registrations = search("registrations", settings.register_start, settings, register_at)

    say(f"{server.name}: calls")
    # Fresh answering UASs for every point: SIPp's UAS keeps the dead calls of an overloaded
    # point and then answers none (Kamailio got 0 of 12,000 after one).  The same ports each
    # time, so every point refreshes the callees' bindings instead of adding one.
    uas_ports = [free_port() for _ in range(settings.pairs)]

    def call_at(rate: float) -> Point:
        point = next(counter)
        try:
            return calls_with_fresh_callees(rate, point)
        except BenchError as exc:
            # The server did not register a callee (after an overloaded point, Kamailio's
            # write-through workers lock each other out): this point failed, the search goes on.
            attempted = max(1, round(rate * settings.duration))
            return Point(round(rate, 1), 0.0, attempted, 0, attempted, 0.0, 1.0, 0.0, False, str(exc)[-2000:])

    def calls_with_fresh_callees(rate: float, point: int) -> Point:
        wait_until_idle(server)  # the callees register once the last point's backlog is worked off
        with answering(server, settings, work / f"uas-{point}", uas_ports) as phones:
            runs: list[tuple[Path, str | None]] = []
            for pair, (callee, _port) in enumerate(phones):
                injection = write_injection(work / f"callers-{pair}.csv", callers(settings, pair, callee))
                runs.append((injection, f"{callee}@{HOST}:{server.port}"))
            return measure(server, "uac.xml", runs, rate, settings.duration, work / f"call-{point}")

    try:
        calls = search("calls", settings.call_start, settings, call_at)
    except BenchError as exc:
        # No call can be measured without a registered callee; the report says why.
        say(f"  calls not measured: {exc}")
        calls = Search("calls", error=str(exc)[-2000:])
    return {"registrations": asdict(registrations), "calls": asdict(calls)}


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    subscribers: int
    duration: float
    register_start: float
    call_start: float
    pairs: int
    max_points: int
    min_rate: float
    precision: float
    rebuild: bool
    tmp: str | None


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": model, "kernel": platform.release()}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    with contextlib.suppress(metadata.PackageNotFoundError):
        found["privateline"] = metadata.version("privateline")
    kam = subprocess.run(["kamailio", "-v"], capture_output=True, text=True, check=False).stdout.splitlines()
    found["kamailio"] = kam[0].replace("version:", "").replace("kamailio", "").strip() if kam else "unknown"
    sipp = subprocess.run(["sipp", "-v"], capture_output=True, text=True, check=False).stdout
    found["sipp"] = next((w.rstrip(".") for w in sipp.split() if w.startswith("v3")), "unknown")
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    if commit.returncode == 0:
        found["privateline_commit"] = commit.stdout.strip()
    return found


def best_rate(results: dict[str, Any], server: str, workload: str) -> float | None:
    best = results.get(server, {}).get(workload, {}).get("best")
    return None if best is None else float(best["rate"])


def judge(results: dict[str, Any]) -> dict[str, Any]:
    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else round(a / b, 3)

    ratios = {
        "registrations_vs_kamailio_memory": ratio(
            best_rate(results, "privateline", "registrations"), best_rate(results, "kamailio-memory", "registrations")
        ),
        "calls_vs_kamailio_memory": ratio(
            best_rate(results, "privateline", "calls"), best_rate(results, "kamailio-memory", "calls")
        ),
        "registrations_vs_kamailio_db": ratio(
            best_rate(results, "privateline", "registrations"), best_rate(results, "kamailio-db", "registrations")
        ),
    }
    minimum = {
        "registrations_vs_kamailio_memory": TARGET_VS_MEMORY,
        "calls_vs_kamailio_memory": TARGET_VS_MEMORY,
        "registrations_vs_kamailio_db": TARGET_REG_VS_DB,
    }
    met = {k: (None if v is None else v >= minimum[k]) for k, v in ratios.items()}
    return {"ratios": ratios, "minimum": minimum, "met": met}


def cell(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    lines = [
        "# SIP benchmark: registrar and proxy, privateline against Kamailio",
        "",
        f"- date: {report['date']}",
        f"- machine: {report['machine']['nproc']} CPUs ({report['machine']['cpu_model']}), "
        f"Linux {report['machine']['kernel']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        f"- data: {settings['subscribers']:,} subscribers, the same numbers and passwords for every server "
        f"(realm {REALM}); Kamailio: auth_db on SQLite (ha1/ha1b), bench/sip/kamailio/kamailio.cfg, children=2; "
        "privateline: `privateline serve --role sip`, one process, SQLite",
        "- load: SIPp on the same machine (tests/edges/sip/sipp/); registrations: REGISTER, 401, REGISTER with "
        "Authorization, 200 over all subscribers, from one port, so each point refreshes the same bindings; "
        "calls: INVITE, 407, ACK, INVITE with Proxy-Authorization, "
        f"100, 180, 200, ACK, BYE, 200 from {settings['pairs']} SIPp UAC(s) to as many registered SIPp UAS(s)",
        f"- rate search: doubled until a point fails, then bisected to {settings['precision']:.0%}; "
        f"{settings['duration']:g} s per point; a point passes with under {MAX_FAILURE_RATIO:.1%} failed calls "
        f"and its calls done within {MAX_OVERRUN:.0%} (+1 s) of its length; the rate is the offered rate of the "
        f"highest passing point; each point starts once the server is idle (under {IDLE_CPU:.0%} of a core "
        f"for a second, at most {IDLE_WAIT_S:g} s), so that it does not measure the backlog of the one before",
        "",
        "| server | registrations/s | failures | server CPU s/s | calls/s | failures | server CPU s/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in SERVERS:
        result = report["results"].get(name)
        if result is None:
            continue
        row = [name]
        for workload in ("registrations", "calls"):
            best = result[workload]["best"]
            if best is None:
                row += ["none passed", "-", "-"]
            else:
                row += [
                    cell(best["rate"]),
                    f"{best['failure_ratio']:.3%}",
                    cell(best["server_cpu_s"] / best["seconds"], 2),
                ]
        lines.append("| " + " | ".join(row) + " |")
    verdict = report["verdict"]
    lines += ["", "Ratios (privateline / Kamailio) and targets:", ""]
    for key, value in verdict["ratios"].items():
        met = verdict["met"][key]
        lines.append(
            f"- {key.replace('_', ' ')}: {cell(value, 3)} (target at least {verdict['minimum'][key]:g}): "
            + ("n/a" if met is None else ("met" if met else "**MISSED**"))
        )
    lines += ["", "Every point measured:", ""]
    lines += ["| server | workload | offered/s | achieved/s | calls | failed | failure ratio | seconds | passed |"]
    lines += ["|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for name in SERVERS:
        result = report["results"].get(name)
        for workload in ("registrations", "calls"):
            for p in [] if result is None else result[workload]["points"]:
                lines.append(
                    f"| {name} | {workload} | {cell(p['rate'])} | {cell(p['achieved_per_s'])} | {p['attempted']:,} "
                    f"| {p['failed']:,} | {p['failure_ratio']:.3%} | {p['seconds']:.1f} "
                    f"| {'yes' if p['ok'] else 'no'} |"
                )
    failures = [
        (name, workload, p["errors"])
        for name in SERVERS
        for workload in ("registrations", "calls")
        for p in report["results"].get(name, {}).get(workload, {}).get("points", [])[:1]
        if p["errors"] and not p["ok"]
    ]
    failures += [
        (name, workload, found["error"])
        for name in SERVERS
        for workload in ("registrations", "calls")
        if (found := report["results"].get(name, {}).get(workload, {})).get("error")
    ]
    if failures:
        lines += ["", "Why a workload did not pass (SIPp's error log of its first point, or the setup's error):", ""]
        for name, workload, errors in failures:
            lines += [f"- {name}, {workload}:", "", "```", errors[-1200:], "```", ""]
    lines += ["", f"**Result: {'all targets met' if report['passed'] else 'targets missed or not measured'}.**", ""]
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> tuple[Settings, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured point (default 15)")
    parser.add_argument("--register-start", type=float, default=1000, help="first registration rate (default 1000)")
    parser.add_argument("--call-start", type=float, default=250, help="first call rate (default 250)")
    parser.add_argument("--pairs", type=int, default=2, help="SIPp UAC/UAS pairs for the calls (default 2)")
    parser.add_argument("--max-points", type=int, default=10, help="points per search at most (default 10)")
    parser.add_argument("--precision", type=float, default=0.1, help="bisect until within this (default 0.1)")
    parser.add_argument("--only", default=",".join(SERVERS), help="comma-separated: " + ",".join(SERVERS))
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached subscriber data")
    parser.add_argument(
        "--tmp",
        default=None,
        help="directory for the servers' databases during the run (default: the system's; e.g. /dev/shm "
        "to take the disk's fsync rate out of the write-through comparison, for every server alike)",
    )
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SERVERS]
    if unknown:
        parser.error(f"unknown server(s): {', '.join(unknown)}")
    if args.pairs < 1 or args.subscribers < args.pairs + 1:
        parser.error("need at least one pair and more subscribers than pairs")
    settings = Settings(
        subscribers=args.subscribers,
        duration=args.duration,
        register_start=args.register_start,
        call_start=args.call_start,
        pairs=args.pairs,
        max_points=args.max_points,
        min_rate=10,
        precision=args.precision,
        rebuild=args.rebuild,
        tmp=args.tmp,
    )
    return settings, only


def main(argv: list[str] | None = None) -> int:
    settings, only = parse(argv)
    for program, package in (("sipp", "sip-tester"), ("kamailio", "kamailio kamailio-sqlite-modules")):
        if shutil.which(program) is None:
            say(f"{program} is not installed: on Debian run `apt-get install -y {package}`")
            return 2
    if not (BIN / "privateline").exists():
        say(f"run this with the project's virtual environment (.venv/bin/python), not {sys.executable}")
        return 2
    key = f"{settings.subscribers}-{DATA_VERSION}-{migrations_digest()}"
    csv_path = CACHE / f"subscribers-{settings.subscribers}.csv"
    pl_template = CACHE / f"privateline-{key}"
    kam_db = CACHE / f"kamailio-{settings.subscribers}-{DATA_VERSION}.sqlite"
    if settings.rebuild:
        csv_path.unlink(missing_ok=True)
        kam_db.unlink(missing_ok=True)
        shutil.rmtree(pl_template, ignore_errors=True)
    for stale in CACHE.glob(f"privateline-{settings.subscribers}-*"):
        if stale.is_dir() and stale.name != pl_template.name:
            shutil.rmtree(stale, ignore_errors=True)
    if not csv_path.exists():
        write_factory_csv(settings.subscribers, csv_path)
    if not kam_db.exists() and any(s.startswith("kamailio") for s in only):
        build_kamailio_database(kam_db, settings.subscribers)
    if not pl_template.exists() and "privateline" in only:
        build_privateline_template(pl_template, csv_path)

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sip-", dir=settings.tmp) as tmp:
        work = Path(tmp)
        for name in only:
            server_work = work / f"{name}-sipp"
            server_work.mkdir()
            if name == "privateline":
                context = privateline_sip(pl_template, work)
            else:
                context = kamailio(name, kam_db, work, write_through=name == "kamailio-db")
            with context as server:
                say(f"{name} listening on udp {HOST}:{server.port}")
                results[name] = bench_server(server, settings, server_work)

    verdict = judge(results)
    passed = set(only) == set(SERVERS) and all(v is True for v in verdict["met"].values())
    report: dict[str, Any] = {
        "benchmark": "SIP registrations and calls, privateline against Kamailio",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "settings": {**asdict(settings), "servers": only},
        "targets": {
            "max_failure_ratio": MAX_FAILURE_RATIO,
            "privateline_vs_kamailio_memory": TARGET_VS_MEMORY,
            "privateline_registrations_vs_kamailio_db": TARGET_REG_VS_DB,
        },
        "results": results,
        "verdict": verdict,
        "passed": passed,
    }
    # Only a full run (all servers, the work order's data and point length) replaces bench/results/.
    full = set(only) == set(SERVERS) and settings.subscribers == 10_000 and settings.duration >= 10
    out = RESULTS if full else CACHE / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sip.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (out / "sip.md").write_text(text)
    print()
    print(text)
    say(f"wrote {(out / 'sip.json').relative_to(ROOT)} and {(out / 'sip.md').relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        say(str(exc))
        sys.exit(2)
