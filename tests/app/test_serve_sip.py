"""`privateline serve` with its SIP part, as an operator starts it (a process of its own)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.subprocess

_LISTENING = re.compile(r"SIP is listening on udp 127\.0\.0\.1:(\d+), tcp 127\.0\.0\.1:(\d+)")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "privateline", *args]


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PRIVATELINE_DATA_DIR=str(tmp_path / "instance"), PRIVATELINE_DATABASE_URL=database_url)
    return env


def _start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `serve` and read its output until the SIP line; the lines read so far are returned."""
    process = subprocess.Popen(_command(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if _LISTENING.search(line):
            return process, lines
    process.kill()
    pytest.fail("serve did not start SIP:\n" + "".join(lines) + (process.stdout.read() or ""))


def _options(port: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        local = sock.getsockname()[1]
        sock.sendto(
            (
                f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-opt-1\r\n"
                "Max-Forwards: 70\r\n"
                "From: <sip:probe@127.0.0.1>;tag=p1\r\n"
                f"To: <sip:127.0.0.1:{port}>\r\n"
                "Call-ID: opt-1@127.0.0.1\r\n"
                "CSeq: 1 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", port),
        )
        return sock.recv(65535)


def test_serve_role_sip_listens_answers_and_stops_on_sigterm(
    tmp_path: Path, database_url: str, unused_udp_port: int
) -> None:
    process, lines = _start(
        ["serve", "--role", "sip", "--sip-port", str(unused_udp_port), "--migrate"], _env(tmp_path, database_url)
    )
    try:
        found = _LISTENING.search(lines[-1])
        assert found is not None and int(found.group(1)) == unused_udp_port == int(found.group(2))
        assert not any("privateline is serving on http" in line for line in lines), "the SIP role serves no HTTP"
        assert _options(unused_udp_port).startswith(b"SIP/2.0 200 ")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "SIP stopped" in output


def test_serve_runs_http_and_sip_together(tmp_path: Path, database_url: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        http_port = probe.getsockname()[1]
    process, lines = _start(
        ["serve", "--http-port", str(http_port), "--sip-port", "0", "--migrate"], _env(tmp_path, database_url)
    )
    try:
        found = _LISTENING.search(lines[-1])
        assert found is not None
        assert _options(int(found.group(1))).startswith(b"SIP/2.0 200 ")
        assert httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=5).status_code == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output


def test_serve_says_so_when_the_sip_port_is_taken(tmp_path: Path, database_url: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run(
            _command("serve", "--role", "sip", "--sip-port", str(port), "--migrate"),
            env=_env(tmp_path, database_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


@pytest.fixture
def unused_udp_port() -> int:
    """A port free for UDP and TCP both (SIP listens on the same number for each, §18)."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    pytest.fail("no free port for UDP and TCP")
