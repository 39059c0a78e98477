"""Benchmark `POST /device/v1/checkin` against a bare endpoint, in one run (`make bench`).

What it does, in order:

1. Generates 100,000 factory records (CSV) and, in a shuffled order, one check-in request
   per device (Authorization header and JSON body) for wrk's Lua script.
2. Builds the 100,000 devices once per backend and caches them under `bench/.cache/`:
   a SQLite data directory, and a `pg_dump` of a PostgreSQL database (importing hashes
   every password with argon2, about a minute per backend; reruns skip it).
3. For each of bare / privateline on SQLite / privateline on PostgreSQL: starts one server
   process on a fresh copy of the data (a fresh PostgreSQL database, dropped afterwards),
   runs wrk (1 thread, 64 connections) for a warm-up and then the measured run, stops the
   server cleanly, and for privateline checks that `device_report` holds one row per
   device that checked in.
4. Writes `bench/results/checkin.json` and `bench/results/checkin.md`, and exits 1 when a
   target is missed or a run had errors.

Run it with the project's virtual environment: `.venv/bin/python bench/checkin/run.py`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / "bench" / ".cache" / "checkin"
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
LUA = HERE / "checkin.lua"

# Bump when the generated data changes, so cached templates are rebuilt.
DATA_VERSION = "1"
PRODUCT = "Gigaset C430 IP"
REALM = "privateline"  # the default PRIVATELINE_SIP_REALM; the stored HA1s depend on it
TARGET_RATIO = 0.40
TARGET_P99_MS = 50.0
DISTURBED_CORES = 0.15  # "other" load above this during a run is called out in the report
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
BACKENDS = ("bare", "sqlite", "postgresql")
NAMES = {"bare": "bare", "sqlite": "privateline-sqlite", "postgresql": "privateline-postgresql"}


class BenchError(Exception):
    """The benchmark cannot run; the message says why and what to do."""


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


# --- the data -----------------------------------------------------------------------------


def device_fields(i: int) -> tuple[str, str, str, str]:
    """Serial, MAC (12 hex digits), number and password of the i-th generated device."""
    return f"S{i:07d}", f"7C2F80{i:06X}", str(100000 + i), f"pw-{i:08d}"


def write_data(devices: int, csv_path: Path, requests_path: Path) -> None:
    """The factory file and, in a fixed shuffled order, one check-in request per device."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["serial", "mac", "product", "number", "password"])
        for i in range(devices):
            serial, mac, number, password = device_fields(i)
            writer.writerow([serial, mac, PRODUCT, number, password])
    order = list(range(devices))
    random.Random(20240901).shuffle(order)  # noqa: S311 (a fixed, reproducible order)
    with requests_path.open("w", encoding="utf-8") as handle:
        for i in order:
            serial, mac, number, password = device_fields(i)
            auth = "Basic " + base64.b64encode(f"{number}:{password}".encode()).decode("ascii")
            body = {
                "serial": serial,
                "mac": ":".join(mac[k : k + 2] for k in range(0, 12, 2)),
                "private_ip": "192.168.178.23",
                "private_port": 5060,
                "internal_ip": "192.168.178.23",
                "device_name": "Kitchen",
                "product": PRODUCT,
                "software_version": "42.1",
            }
            handle.write(f"{auth}\t{json.dumps(body, separators=(',', ':'))}\n")


def cache_key(devices: int) -> str:
    """Changes when the schema or the password forms change, so a stale template is rebuilt."""
    digest = hashlib.sha256(f"{DATA_VERSION}:{devices}:{REALM}".encode())
    src = ROOT / "src" / "privateline"
    watched = sorted((src / "migrations" / "versions").glob("*.py"))
    watched += [src / "services" / "devices" / "credentials.py"]
    for path in watched:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"{devices}-{digest.hexdigest()[:12]}"


# --- processes ----------------------------------------------------------------------------


def server_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVATELINE_")}
    env["PRIVATELINE_DATA_DIR"] = str(data_dir)
    env["PRIVATELINE_LOG_LEVEL"] = "warning"
    if database_url is not None:
        env["PRIVATELINE_DATABASE_URL"] = database_url
    return env


def privateline(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([str(BIN / "privateline"), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"`privateline {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[Server]:
    """Start a server, wait until it answers HTTP, and stop it cleanly (SIGINT) afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_up(server)
        yield server
    finally:
        stop(server)


def wait_until_up(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"the server exited with {server.process.returncode}:\n{tail(server.log)}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2):  # noqa: S310 (our own server)
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"the server did not answer within {timeout:.0f} s:\n{tail(server.log)}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            say("the server did not stop within 30 s after SIGINT; killing it")
            server.process.kill()
            server.process.wait()
    # uvicorn re-raises the signal after its graceful shutdown: 130 is a clean stop
    if server.process.returncode not in (0, 130, -signal.SIGINT):
        say(f"the server exited with {server.process.returncode}:\n{tail(server.log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- CPU accounting: who used the 2 cores during a run ------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class MachineTimes:
    """CPU seconds since boot, all cores: processes, interrupts (loopback networking), stolen by the host."""

    processes: float
    interrupts: float
    steal: float

    @classmethod
    def read(cls) -> MachineTimes:
        values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = values
        return cls((user + nice + system) / CLOCK_TICKS, (irq + softirq) / CLOCK_TICKS, steal / CLOCK_TICKS)


def process_cpu_s(pid: int) -> float:
    """CPU seconds of one process, all its threads, since it started (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_cpu_s() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    total += process_cpu_s(int(entry.name))
    return total


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuSnapshot:
    at: float
    machine: MachineTimes
    server: float
    postgres: float
    children: float

    @classmethod
    def take(cls, server_pid: int) -> CpuSnapshot:
        return cls(time.monotonic(), MachineTimes.read(), process_cpu_s(server_pid), postgres_cpu_s(), children_cpu_s())


def cores_used(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """Average cores busy during a run, by whom.

    `other` is every other process on the machine (work that disturbs the measurement);
    `kernel_net` is interrupt and softirq time, mostly the loopback traffic of the run
    itself; `steal` is time the hypervisor gave to other guests.
    """
    wall = after.at - before.at

    def per_s(delta: float) -> float:
        return max(delta, 0.0) / wall  # a PostgreSQL backend that exits during the run is not counted

    server = per_s(after.server - before.server)
    wrk_ = per_s(after.children - before.children)
    postgres = per_s(after.postgres - before.postgres)
    processes = per_s(after.machine.processes - before.machine.processes)
    return {
        "server": round(server, 2),
        "wrk": round(wrk_, 2),
        "postgres": round(postgres, 2),
        "other": round(max(processes - server - wrk_ - postgres, 0.0), 2),
        "kernel_net": round(per_s(after.machine.interrupts - before.machine.interrupts), 2),
        "steal": round(per_s(after.machine.steal - before.machine.steal), 2),
    }


def wait_for_quiet(limit_s: float, threshold: float = 0.2) -> float:
    """Wait (at most `limit_s`) until other processes leave the CPUs; return the cores they use at the end."""
    deadline = time.monotonic() + limit_s
    announced = False
    while True:
        first, start = MachineTimes.read(), time.monotonic()
        time.sleep(1.0)
        busy = (MachineTimes.read().processes - first.processes) / (time.monotonic() - start)
        if busy < threshold or time.monotonic() >= deadline:
            if announced:
                say(f"other processes now use {busy:.2f} cores")
            return round(busy, 2)
        if not announced:
            say(f"other processes use {busy:.2f} cores; waiting up to {limit_s:.0f} s for a quiet machine")
            announced = True


# --- wrk ----------------------------------------------------------------------------------


@dataclass
class WrkRun:
    requests: int
    sent: int
    duration_s: float
    requests_per_s: float
    latency_ms: dict[str, float]
    statuses: dict[str, int]
    non_2xx: int
    socket_errors: dict[str, int]
    sample_non_2xx: str | None
    cores: dict[str, float]


def wrk(url: str, requests_file: Path, offset: int, seconds: int, connections: int, server_pid: int) -> WrkRun:
    env = dict(os.environ, BENCH_REQUESTS=str(requests_file), BENCH_OFFSET=str(offset))
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--script",
        str(LUA),
        url + "/device/v1/checkin",
    ]
    before = CpuSnapshot.take(server_pid)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    after = CpuSnapshot.take(server_pid)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    raw: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
    sample = next(
        (x.removeprefix("BENCH_SAMPLE ") for x in done.stdout.splitlines() if x.startswith("BENCH_SAMPLE ")), None
    )
    duration = raw["duration_us"] / 1e6
    statuses = {str(k): int(v) for k, v in sorted(raw["statuses"].items())}
    errors = {k: int(v) for k, v in raw["errors"].items() if k != "status"}
    return WrkRun(
        requests=raw["requests"],
        sent=raw["sent"],
        duration_s=round(duration, 3),
        requests_per_s=round(raw["requests"] / duration, 1),
        latency_ms={k: round(v / 1000, 3) for k, v in raw["latency_us"].items()},
        statuses=statuses,
        non_2xx=sum(n for code, n in statuses.items() if not 200 <= int(code) <= 299),
        socket_errors=errors,
        sample_non_2xx=sample,
        cores=cores_used(before, after),
    )


# --- the backends -------------------------------------------------------------------------


@dataclass
class Settings:
    devices: int
    connections: int
    duration_s: int
    warmup_s: int
    postgres: str
    rebuild: bool
    profile: bool
    quiet_wait_s: float


@dataclass
class Result:
    name: str
    run: WrkRun
    warmup: WrkRun
    setup_s: float
    stored: dict[str, Any] | None = None
    profile: str | None = None
    busy_before_cores: float | None = None
    ratio_vs_bare: float | None = None
    requests_per_cpu_s: float | None = None
    cpu_ratio_vs_bare: float | None = None
    targets: dict[str, bool] = field(default_factory=dict)


@dataclass
class Measured:
    warmup: WrkRun
    run: WrkRun
    profile: str | None
    busy_before_cores: float


def measure(server: Server, requests_file: Path, settings: Settings, name: str, work: Path) -> Measured:
    busy = wait_for_quiet(settings.quiet_wait_s)
    say(f"{name}: warm-up {settings.warmup_s} s, then {settings.duration_s} s at {settings.connections} connections")
    warm = wrk(server.url, requests_file, 0, settings.warmup_s, settings.connections, server.process.pid)
    profiler = None
    profile_path = None
    if settings.profile:
        profile_path = CACHE / f"profile-{name}.svg"
        profiler = start_profiler(server.process.pid, settings.duration_s, profile_path, work)
    run = wrk(server.url, requests_file, warm.sent, settings.duration_s, settings.connections, server.process.pid)
    if profiler is not None:
        profiler.wait(timeout=60)
    say(
        f"{name}: {run.requests_per_s:,.0f} requests/s, p50 {run.latency_ms['p50']:.2f} ms, "
        f"p99 {run.latency_ms['p99']:.2f} ms, non-2xx {run.non_2xx}; cores busy: "
        + ", ".join(f"{k} {v:.2f}" for k, v in run.cores.items())
    )
    return Measured(warm, run, None if profile_path is None else str(profile_path.relative_to(ROOT)), busy)


def start_profiler(pid: int, seconds: int, out: Path, work: Path) -> subprocess.Popen[bytes]:
    spy = BIN / "py-spy"
    if not spy.exists():
        raise BenchError("--profile needs py-spy in the virtual environment: .venv/bin/pip install py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)
    # --gil: only the thread holding the GIL is sampled, so the graph shows where the one core of Python goes
    command = [str(spy), "record", "--pid", str(pid), "--duration", str(seconds), "--threads", "--gil"]
    command += ["--rate", "100", "--output", str(out)]
    with (work / "py-spy.log").open("wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def run_bare(requests_file: Path, settings: Settings, work: Path) -> Result:
    port = free_port()
    command = [
        str(BIN / "python"),
        "-m",
        "uvicorn",
        "bare:app",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-server-header",
        "--log-level",
        "warning",
    ]
    started = time.monotonic()
    with running(command, dict(os.environ), port, work / "bare.log") as server:
        setup = time.monotonic() - started
        m = measure(server, requests_file, settings, "bare", work)
    return Result("bare", m.run, m.warmup, round(setup, 1), profile=m.profile, busy_before_cores=m.busy_before_cores)


def serve_command(port: int) -> list[str]:
    return [str(BIN / "privateline"), "serve", "--host", "127.0.0.1", "--http-port", str(port)]


def expected_rows(devices: int, warm: WrkRun, run: WrkRun, connections: int) -> dict[str, int]:
    """How many devices' reports must be stored after both wrk runs.

    The requests go through the shuffled devices in order, so `sent` requests reach
    min(sent, devices) distinct devices.  A request still in flight when wrk stops may
    not have been stored; at most `connections` per wrk run are in flight.
    """
    sent = warm.sent + run.sent
    completed = warm.requests + run.requests
    upper = min(sent, devices)
    lower = min(completed, devices) if sent <= devices else devices - 2 * connections
    return {"sent": sent, "completed": completed, "at_least": max(lower, 0), "at_most": upper}


def check_stored(counts: dict[str, int], expected: dict[str, int]) -> dict[str, Any]:
    rows = counts["device_report_rows"]
    ok = expected["at_least"] <= rows <= expected["at_most"] and counts["devices_with_reported_version"] == rows
    return {**counts, **expected, "ok": ok}


def run_sqlite(template: Path, requests_file: Path, settings: Settings, work: Path) -> Result:
    started = time.monotonic()
    data_dir = work / "sqlite-data"
    shutil.copytree(template, data_dir)
    env = server_env(data_dir, None)
    privateline(["migrate"], env)
    port = free_port()
    with running(serve_command(port), env, port, work / "sqlite.log") as server:
        setup = time.monotonic() - started
        m = measure(server, requests_file, settings, NAMES["sqlite"], work)
    with contextlib.closing(sqlite3.connect(data_dir / "privateline.sqlite3")) as db:
        counts = {
            "device_report_rows": db.execute("SELECT count(*) FROM device_report").fetchone()[0],
            "devices_with_reported_version": db.execute(
                "SELECT count(*) FROM device WHERE software_version = '42.1'"
            ).fetchone()[0],
        }
    stored = check_stored(counts, expected_rows(settings.devices, m.warmup, m.run, settings.connections))
    return Result(
        NAMES["sqlite"],
        m.run,
        m.warmup,
        round(setup, 1),
        stored=stored,
        profile=m.profile,
        busy_before_cores=m.busy_before_cores,
    )


def build_sqlite_template(directory: Path, csv_path: Path) -> None:
    say(f"building the SQLite template in {directory.relative_to(ROOT)} (argon2 for every device: about a minute)")
    building = directory.with_name(directory.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    env = server_env(building, None)
    started = time.monotonic()
    privateline(["migrate"], env)
    privateline(["devices", "import", str(csv_path), "--no-progress"], env)
    building.rename(directory)
    say(f"SQLite template built in {time.monotonic() - started:.0f} s")


def pg_execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())


def pg_admin(settings: Settings, sql: str) -> None:
    pg_execute(settings.postgres + "/postgres", sql)


def pg_query(url: str, sql: str) -> Any:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(sql.encode()).fetchone()
        return None if row is None else row[0]


def run_postgresql(template: Path, csv_path: Path, requests_file: Path, settings: Settings, work: Path) -> Result:
    started = time.monotonic()
    database = f"privateline_bench_checkin_{os.getpid()}"
    url = f"{settings.postgres}/{database}"
    data_dir = work / "postgresql-data"
    dump = template / "devices.pgdump"
    pg_admin(settings, f'CREATE DATABASE "{database}"')
    try:
        if dump.exists():
            shutil.copytree(template / "data", data_dir)
            restored = subprocess.run(
                ["pg_restore", "--no-owner", "--jobs", "2", "--dbname", url, str(dump)],
                capture_output=True,
                text=True,
                check=False,
            )
            if restored.returncode != 0:
                raise BenchError(f"pg_restore failed:\n{restored.stderr}")
            env = server_env(data_dir, url)
            privateline(["migrate"], env)
        else:
            say("importing the devices into PostgreSQL (argon2 for every device: about a minute)")
            env = server_env(data_dir, url)
            privateline(["migrate"], env)
            privateline(["devices", "import", str(csv_path), "--no-progress"], env)
            save_postgresql_template(template, data_dir, url)
        pg_execute(url, "ANALYZE")  # restored tables have no statistics; a database in service has them
        port = free_port()
        with running(serve_command(port), env, port, work / "postgresql.log") as server:
            setup = time.monotonic() - started
            m = measure(server, requests_file, settings, NAMES["postgresql"], work)
        counts = {
            "device_report_rows": int(pg_query(url, "SELECT count(*) FROM device_report")),
            "devices_with_reported_version": int(
                pg_query(url, "SELECT count(*) FROM device WHERE software_version = '42.1'")
            ),
        }
        version = str(pg_query(url, "SHOW server_version"))
    finally:
        pg_admin(settings, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    stored = check_stored(counts, expected_rows(settings.devices, m.warmup, m.run, settings.connections))
    stored["server_version"] = version
    return Result(
        NAMES["postgresql"],
        m.run,
        m.warmup,
        round(setup, 1),
        stored=stored,
        profile=m.profile,
        busy_before_cores=m.busy_before_cores,
    )


def save_postgresql_template(template: Path, data_dir: Path, url: str) -> None:
    if shutil.which("pg_dump") is None:
        say("pg_dump is not installed: the PostgreSQL devices are not cached (the next run imports again)")
        return
    building = template.with_name(template.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    shutil.copytree(data_dir, building / "data")
    dumped = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", str(building / "devices.pgdump"), "--dbname", url],
        capture_output=True,
        text=True,
        check=False,
    )
    if dumped.returncode != 0:
        say(f"pg_dump failed, the PostgreSQL devices are not cached:\n{dumped.stderr}")
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
    }


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for package in (
        "privateline",
        "uvicorn",
        "uvloop",
        "httptools",
        "starlette",
        "fastapi",
        "pydantic",
        "SQLAlchemy",
        "psycopg",
    ):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout
    found["wrk"] = wrk_version.split("[")[0].replace("wrk", "").strip() or "unknown"
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


def judge(results: list[Result]) -> None:
    bare = next((r for r in results if r.name == "bare"), None)
    for result in results:
        cores = result.run.cores["server"] + result.run.cores["postgres"]
        result.requests_per_cpu_s = round(result.run.requests_per_s / cores, 1) if cores > 0 else None
        clean = result.run.non_2xx == 0 and not any(result.run.socket_errors.values())
        if result.name == "bare":
            result.targets = {"no_errors": clean}
            continue
        result.targets = {
            "no_errors": clean,
            "p99_under_50ms": result.run.latency_ms["p99"] < TARGET_P99_MS,
            "stored": bool(result.stored and result.stored["ok"]),
        }
        if bare is not None:
            result.ratio_vs_bare = round(result.run.requests_per_s / bare.run.requests_per_s, 3)
            result.targets["at_least_40pct_of_bare"] = result.ratio_vs_bare >= TARGET_RATIO
            if result.requests_per_cpu_s and bare.requests_per_cpu_s:
                result.cpu_ratio_vs_bare = round(result.requests_per_cpu_s / bare.requests_per_cpu_s, 3)


def yes(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**NO**")


def ratio_text(value: float | None, bare: bool) -> str:
    return "1.00" if bare else ("-" if value is None else f"{value:.2f}")


def markdown(report: dict[str, Any], results: list[Result]) -> str:
    m, v, s = report["machine"], report["versions"], report["settings"]
    lines = [
        "# Check-in benchmark: `POST /device/v1/checkin`",
        "",
        f"- date: {report['date']}",
        f"- machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- load: wrk, 1 thread, {s['connections']} connections, {s['warmup_s']} s warm-up then "
        f"{s['duration_s']} s measured; every request a different one of {s['devices']:,} devices (shuffled)",
        "- servers: one uvicorn process each (uvloop, httptools); bare = Starlette + `json.loads` "
        "(bench/checkin/bare.py); privateline = `privateline serve` on SQLite and on PostgreSQL",
        f"- targets: at least {TARGET_RATIO:.0%} of bare's requests/s, p99 under {TARGET_P99_MS:.0f} ms, "
        "no errors (non-2xx or socket), every check-in stored",
        "",
        "| endpoint | requests/s | vs bare | p50 ms | p99 ms | max ms | non-2xx | socket errors "
        "| stored in device_report | targets met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        stored = "-" if r.stored is None else f"{r.stored['device_report_rows']:,} rows ({yes(r.stored['ok'])})"
        lines.append(
            f"| {r.name} | {r.run.requests_per_s:,.0f} | {ratio_text(r.ratio_vs_bare, r.name == 'bare')} | "
            f"{r.run.latency_ms['p50']:.2f} | {r.run.latency_ms['p99']:.2f} | {r.run.latency_ms['max']:.1f} | "
            f"{r.run.non_2xx} | {sum(r.run.socket_errors.values())} | {stored} | {yes(all(r.targets.values()))} |"
        )
    lines += [
        "",
        "Where the CPU went during each measured run (average cores busy). Requests per CPU second counts "
        "the server process and, for PostgreSQL, the database; unlike requests/s it hardly moves when "
        "other work shares the machine.",
        "",
        "| endpoint | server | wrk | postgres | other processes | kernel (net) | steal "
        "| requests per CPU second | vs bare |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r.run.cores
        per_cpu = "-" if r.requests_per_cpu_s is None else f"{r.requests_per_cpu_s:,.0f}"
        lines.append(
            f"| {r.name} | {c['server']:.2f} | {c['wrk']:.2f} | {c['postgres']:.2f} | {c['other']:.2f} | "
            f"{c['kernel_net']:.2f} | {c['steal']:.2f} | {per_cpu} | "
            f"{ratio_text(r.cpu_ratio_vs_bare, r.name == 'bare')} |"
        )
    lines += ["", "Targets per endpoint:", ""]
    for r in results:
        if r.name == "bare":
            continue
        parts = ", ".join(f"{k.replace('_', ' ')}: {yes(ok)}" for k, ok in r.targets.items())
        lines.append(f"- {r.name}: {parts}")
        if r.run.sample_non_2xx:
            lines.append(f"  - first non-2xx answer: `{r.run.sample_non_2xx[:200]}`")
        if r.stored is not None:
            lines.append(
                f"  - device_report: {r.stored['device_report_rows']:,} rows, expected {r.stored['at_least']:,} to "
                f"{r.stored['at_most']:,} ({r.stored['sent']:,} requests sent, {r.stored['completed']:,} answered, "
                "warm-up included); factory records updated: "
                f"{r.stored['devices_with_reported_version']:,}"
            )
    disturbed = [r for r in results if r.run.cores["other"] > DISTURBED_CORES]
    if disturbed:
        lines += [
            "",
            "**Caution:** other processes on the machine used "
            + ", ".join(f"{r.run.cores['other']:.2f} cores during {r.name}" for r in disturbed)
            + "; requests/s of those runs are lower than on a quiet machine (compare requests per CPU second).",
        ]
    lines += ["", f"**Result: {'all targets met' if report['passed'] else 'targets NOT met'}.**", ""]
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> tuple[Settings, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=20, help="seconds measured (default 20)")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up before (default 5)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES", DEFAULT_POSTGRES),
        help=f"PostgreSQL server URL without a database (default $BENCH_POSTGRES or {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--only", default=",".join(BACKENDS), help="comma-separated: bare,sqlite,postgresql")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached devices")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record a py-spy flame graph (GIL holder) of each measured run into bench/.cache/checkin/ (needs py-spy)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="seconds to wait at most, before each endpoint, for other processes to leave the CPUs (default 60)",
    )
    args = parser.parse_args(argv)
    only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = [b for b in only if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(unknown)}")
    settings = Settings(
        devices=args.devices,
        connections=args.connections,
        duration_s=args.duration,
        warmup_s=args.warmup,
        postgres=args.postgres.rstrip("/"),
        rebuild=args.rebuild,
        profile=args.profile,
        quiet_wait_s=args.quiet_wait,
    )
    return settings, only


def main(argv: list[str] | None = None) -> int:
    settings, only = parse(argv)
    if shutil.which("wrk") is None:
        say("wrk is not installed: on Debian or Ubuntu run `sudo apt-get install -y wrk` (make bench does it as root)")
        return 2
    if not (BIN / "privateline").exists():
        say(f"run this with the project's virtual environment (.venv/bin/python), not {sys.executable}")
        return 2
    key = cache_key(settings.devices)
    csv_path = CACHE / f"devices-{settings.devices}.csv"
    requests_file = CACHE / f"requests-{settings.devices}.tsv"
    sqlite_template = CACHE / f"sqlite-{key}"
    pg_template = CACHE / f"postgresql-{key}"
    if settings.rebuild:
        for path in (csv_path, requests_file):
            path.unlink(missing_ok=True)
        for path in (sqlite_template, pg_template):
            shutil.rmtree(path, ignore_errors=True)
    if not (csv_path.exists() and requests_file.exists()):
        write_data(settings.devices, csv_path, requests_file)
    # Templates of this device count built from an older schema, and unfinished builds, go.
    for backend in ("sqlite", "postgresql"):
        for stale in CACHE.glob(f"{backend}-{settings.devices}-*"):
            if stale.is_dir() and stale.name != f"{backend}-{key}":
                shutil.rmtree(stale, ignore_errors=True)

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-checkin-") as tmp:
        work = Path(tmp)
        for backend in only:
            if backend == "bare":
                results.append(run_bare(requests_file, settings, work))
            elif backend == "sqlite":
                if not sqlite_template.exists():
                    build_sqlite_template(sqlite_template, csv_path)
                results.append(run_sqlite(sqlite_template, requests_file, settings, work))
            else:
                results.append(run_postgresql(pg_template, csv_path, requests_file, settings, work))

    judge(results)
    passed = all(all(r.targets.values()) for r in results) and all(b in only for b in BACKENDS)
    report: dict[str, Any] = {
        "benchmark": "POST /device/v1/checkin",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "settings": {
            "devices": settings.devices,
            "connections": settings.connections,
            "wrk_threads": 1,
            "duration_s": settings.duration_s,
            "warmup_s": settings.warmup_s,
            "backends": only,
        },
        "targets": {"min_ratio_vs_bare": TARGET_RATIO, "max_p99_ms": TARGET_P99_MS},
        "results": {r.name: asdict(r) for r in results},
        "passed": passed,
    }
    # Only a full run (all endpoints, the work order's load) replaces bench/results/.
    full = set(only) == set(BACKENDS) and settings.devices == 100_000 and settings.connections == 64
    out = RESULTS if full else CACHE / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkin.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report, results)
    (out / "checkin.md").write_text(text)
    print()
    print(text)
    say(f"wrote {(out / 'checkin.json').relative_to(ROOT)} and {(out / 'checkin.md').relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        say(str(exc))
        sys.exit(2)
