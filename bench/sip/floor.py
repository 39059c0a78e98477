"""The floor of a registrar in Python: how many REGISTER-with-challenge cycles one CPython
process can answer on this machine at all, measured with the same SIPp scenario, users and
rate search as `run.py` (which measures privateline and Kamailio).

    .venv/bin/python bench/sip/floor.py [--duration S] [--max-points N]

It serves a bare registrar (`serve`, started as a child process of this script) that does
only what no registrar can leave out, the way privateline's transport does it: a batch of
datagrams read from a plain UDP socket, each REGISTER split into header lines, a 401 with a
nonce (HMAC of its time) to one without credentials, the RFC 2617 digest (qop=auth) checked
against HA1s held in memory, the binding upserted into SQLite (WAL, one commit per batch),
then the 200s sent.  It leaves out everything else privateline does: the grammar checks of
RFC 3261 §25 and RFC 4475, server transactions (§17.2), nonce replay and stale checks,
failure rate limits, the device's record and VoIP switch read from the database, Contact
expiry and ordering rules (§10.3 steps 6 and 7), several contacts, TCP, and the location
shared between processes.  It is not a registrar anyone should run: it is the yardstick
that says how much of privateline's cost is the language and how much is its own design.

Writes `bench/results/sip-floor.md` and `.json` (other settings: `bench/.cache/sip/results/`).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run

_KEY = os.urandom(16)
_TAG = 24  # hex digits of the nonce's MAC


def _mac(stamp: str) -> str:
    return hmac.new(_KEY, stamp.encode(), "sha256").hexdigest()[:_TAG]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _split(data: bytes) -> dict[str, list[str]]:
    head = data.partition(b"\r\n\r\n")[0].decode()
    fields: dict[str, list[str]] = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return fields


def _digest_params(value: str) -> dict[str, str]:
    params = {}
    for part in value.removeprefix("Digest ").split(","):
        key, _, item = part.strip().partition("=")
        params[key.lower()] = item.strip('"')
    return params


def _reply(fields: dict[str, list[str]], status: str, extra: list[str]) -> bytes:
    vias = fields["via"]
    lines = [f"SIP/2.0 {status}", f"Via: {vias[0]};received=127.0.0.1", *(f"Via: {v}" for v in vias[1:])]
    lines += [f"From: {fields['from'][0]}", f"To: {fields['to'][0]};tag=f1", f"Call-ID: {fields['call-id'][0]}"]
    lines += [f"CSeq: {fields['cseq'][0]}", *extra, "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(data: bytes, now: float, ha1s: dict[str, str], writes: list[tuple[object, ...]]) -> bytes | None:
    fields = _split(data)
    credentials = fields.get("authorization")
    if not credentials:
        stamp = str(int(now))
        nonce = stamp + _mac(stamp)
        challenge = f'WWW-Authenticate: Digest realm="{run.REALM}",nonce="{nonce}",qop="auth",algorithm=MD5'
        return _reply(fields, "401 Unauthorized", [challenge])
    params = _digest_params(credentials[0])
    nonce = params["nonce"]
    if not hmac.compare_digest(nonce[-_TAG:], _mac(nonce[:-_TAG])):
        return None
    ha1 = ha1s.get(params["username"], "")
    ha2 = _md5(f"REGISTER:{params['uri']}")
    expected = _md5(f"{ha1}:{nonce}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
    if not hmac.compare_digest(expected, params["response"]):
        return _reply(fields, "403 Forbidden", [])
    contact = fields["contact"][0]
    user_agent = fields.get("user-agent", [""])[0]
    writes.append((params["username"], contact, now + 3600, user_agent))
    return _reply(fields, "200 OK", [f"Contact: {contact};expires=3600"])


def serve(port: int, database: Path, subscribers: int) -> None:
    ha1s = {number: run.ha1(number, password) for number, password in map(run.subscriber, range(subscribers))}
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE binding (aor TEXT, contact TEXT, expires REAL, ua TEXT, PRIMARY KEY (aor, contact))")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind((run.HOST, port))
    sock.setblocking(False)
    print("listening", flush=True)
    while True:
        select.select([sock], [], [])
        now = time.time()
        out: list[tuple[bytes, object]] = []
        writes: list[tuple[object, ...]] = []
        for _ in range(256):
            try:
                data, peer = sock.recvfrom(65535)
            except BlockingIOError:
                break
            answer = _answer(data, now, ha1s, writes)
            if answer is not None:
                out.append((answer, peer))
        if writes:
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO binding VALUES (?, ?, ?, ?) ON CONFLICT (aor, contact) "
                "DO UPDATE SET expires = excluded.expires, ua = excluded.ua",
                writes,
            )
            db.execute("COMMIT")
        for payload, peer in out:
            sock.sendto(payload, peer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--register-start", type=float, default=1000)
    parser.add_argument("--max-points", type=int, default=10)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.database, args.subscribers)
        return 0
    settings = run.Settings(
        args.subscribers, args.duration, args.register_start, 0, 1, args.max_points, 10, 0.1, False, None
    )
    with tempfile.TemporaryDirectory(prefix="sip-floor-") as tmp:
        work = Path(tmp)
        port = run.free_port()
        log = work / "floor.log"
        command = [sys.executable, __file__, "--serve", str(port), "--database", str(work / "floor.db")]
        command += ["--subscribers", str(args.subscribers)]
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        server = run.Server("python-floor", port, process, log)
        try:
            run.wait_for_line(log, "listening", process)
            users = [[n, run.auth(n, p)] for n, p in (run.subscriber(i) for i in range(args.subscribers))]
            register_file = run.write_injection(work / "register.csv", users)
            register_port = run.free_port()
            counter = iter(range(1000))

            def register_at(rate: float) -> run.Point:
                run.wait_until_idle(server)
                return run.measure(
                    server, "register.xml", [(register_file, None)], rate, args.duration,
                    work / f"reg-{next(counter)}", port=register_port,
                )  # fmt: skip

            found = run.search("registrations", args.register_start, settings, register_at)
        finally:
            run.stop(server, signal.SIGKILL)
    best = found.best
    result = {
        "server": "python-floor (bench/sip/floor.py)",
        "registrations_per_s": best.rate if best else None,
        "server_cpu_s_per_s": round(best.server_cpu_s / best.seconds, 2) if best else None,
        "duration_s": args.duration,
        "subscribers": args.subscribers,
        "machine": run.machine(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "points": [vars(p) for p in found.points],
    }
    default = args.duration >= 10 and args.subscribers == 10_000
    folder = run.ROOT / "bench" / "results" if default else run.CACHE / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sip-floor.json").write_text(json.dumps(result, indent=2) + "\n")
    rate = f"{best.rate:,.0f}" if best else "none passed"
    machine = "{nproc} cores, {cpu_model}, Linux {kernel}".format(**result["machine"])
    lines = [
        "# SIP registrar floor in Python (bench/sip/floor.py)",
        "",
        f"- when: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {machine}",
        f"- python {result['python']}, sqlite {result['sqlite']}; {args.subscribers:,} subscribers; "
        f"{args.duration:g} s per point; the rate search and pass rule of run.py",
        "",
        f"**A bare registrar in one CPython process: {rate} REGISTER-with-challenge cycles/s.**",
        "",
        "What it leaves out is listed in floor.py's docstring; compare with privateline and Kamailio in sip.md.",
        "",
        "| offered/s | achieved/s | failure ratio | seconds | passed |",
        "|---:|---:|---:|---:|---|",
        *(
            f"| {p.rate:,.0f} | {p.achieved_per_s:,.0f} | {p.failure_ratio:.3%} | {p.seconds} "
            f"| {'yes' if p.ok else 'no'} |"
            for p in found.points
        ),
    ]
    (folder / "sip-floor.md").write_text("\n".join(lines) + "\n")
    run.say(f"wrote {folder / 'sip-floor.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
