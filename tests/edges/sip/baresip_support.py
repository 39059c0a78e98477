"""baresip, a real SIP phone, in a process of its own for the tests of the SIP service.

Each `Baresip` gets its own configuration directory (`config` and `accounts`, see
/usr/share/doc/baresip-core/examples) with no audio hardware: the sine generator (ausine) is
its microphone, no player is loaded (baresip then runs the call without playing anything),
PCMU/PCMA (g711) is its codec.  The callee's account has `answermode=auto`.

The phone is driven over its ctrl_tcp module: JSON in netstrings ("len:payload,"), commands
`{"command": ..., "params": ..., "token": ...}` answered by `{"response": true, ...}`, and
events `{"event": true, "type": "CALL_ESTABLISHED", ...}`.  Its console output is read as
well, since the registration may be done before the control connection is up.
"""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.edges.sip.sipp import HOST, require
from tests.ports import free_port
from tests.processes import stop_process

MODULES = Path("/usr/lib/baresip/modules")


class Baresip:
    def __init__(self, root: Path, number: str, password: str, server_port: int, *, auto_answer: bool) -> None:
        self.root = root
        self.number = number
        self.server_port = server_port
        self.password = password
        self.auto_answer = auto_answer
        self.sip_port = self.ctrl_port = 0
        root.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._control: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    # -- process and output --------------------------------------------------------------------

    def _configure(self) -> None:
        """Fresh ports and the config and accounts files that name them."""
        # baresip also binds TLS on the SIP port + 1 (libre's default), and RTP/RTCP on a pair.
        self.sip_port = free_port(span=2)
        self.ctrl_port = free_port()
        rtp = free_port(span=2)
        (self.root / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen {HOST}:{self.sip_port}",
                    "call_local_timeout 120",
                    "call_max_calls 4",
                    "audio_source ausine,440",
                    "ausrc_srate 48000",  # ausine makes 48 kHz stereo only; baresip resamples for the codec
                    "ausrc_channels 2",
                    f"rtp_ports {rtp}-{rtp + 1}",
                    f"module_path {MODULES}",
                    "module g711.so",
                    "module ausine.so",
                    "module_tmp account.so",
                    "module_app menu.so",  # the dial/hangup commands and auto-answer
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen {HOST}:{self.ctrl_port}",
                    "",
                ]
            )
        )
        answer = ";answermode=auto" if self.auto_answer else ";answermode=manual"
        (self.root / "accounts").write_text(
            f"<sip:{self.number}@{HOST}:{self.server_port};transport=udp>;auth_pass={self.password}{answer};regint=600\n"
        )

    def start(self, attempts: int = 3) -> None:
        """Start baresip and connect to its ctrl_tcp.  A port another process took between our pick and
        baresip's bind ("Address already in use") is the harness's bad luck, not the server's: baresip
        is started again on fresh ports."""
        for attempt in range(1, attempts + 1):
            self._configure()
            self._spawn_process()
            try:
                self.connect()
                # libre binds the SIP sockets before the ctrl_tcp module loads, so a clash shows by now.
                if "Address already in use" in self.output():
                    raise AssertionError(f"baresip {self.number} could not bind a port:\n{self.output()}")
                return
            except AssertionError:
                if "Address already in use" not in self.output() or attempt == attempts:
                    raise
                self.stop()
                self.lines.clear()
                self._lines = queue.Queue()
                self._threads.clear()
                self._control = None

    def _spawn_process(self) -> None:
        baresip = require("baresip", "baresip")
        self.process = subprocess.Popen(
            [baresip, "-f", str(self.root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        stream = self.process.stdout
        assert stream is not None

        def pump() -> None:
            for line in stream:
                self.lines.append(line)
                self._lines.put(line)
            self._lines.put("")

        self._spawn(pump)

    def _spawn(self, target: Any) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait_for_output(self, text: str, timeout: float = 20, fail_on: tuple[str, ...] = ("reg: ",)) -> str:
        """The first output line with `text`; a line with one of `fail_on` (libre's registration
        errors start with "reg: ") ends the wait at once."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line == "":
                raise AssertionError(f"baresip {self.number} ended before saying {text!r}:\n{self.output()}")
            if text in line:
                return line
            if any(marker in line for marker in fail_on):
                raise AssertionError(f"baresip {self.number}: {line.strip()}\n{self.output()}")
        raise AssertionError(f"baresip {self.number} did not say {text!r} within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return "".join(self.lines)

    # -- ctrl_tcp ----------------------------------------------------------------------------------

    def connect(self, timeout: float = 20) -> None:
        """Connect to ctrl_tcp (it listens once baresip has loaded its modules)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._control = socket.create_connection((HOST, self.ctrl_port), timeout=5)
                break
            except OSError:
                if self.process is not None and self.process.poll() is not None:
                    raise AssertionError(f"baresip {self.number} exited:\n{self.output()}") from None
                if time.monotonic() > deadline:
                    raise AssertionError(f"baresip {self.number}: no ctrl_tcp on {self.ctrl_port}") from None
                time.sleep(0.05)  # a poll interval while the listener comes up
        self._control.settimeout(None)
        self._spawn(self._read_control)

    def _read_control(self) -> None:
        assert self._control is not None
        buffer = b""
        while True:
            try:
                chunk = self._control.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b":" in buffer:
                length, _, rest = buffer.partition(b":")
                size = int(length)
                if len(rest) < size + 1:
                    break
                payload, buffer = rest[:size], rest[size + 1 :]  # skip the closing ","
                self._events.put(json.loads(payload))

    def command(self, command: str, params: str = "") -> None:
        assert self._control is not None
        payload = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._control.sendall(str(len(payload)).encode() + b":" + payload + b",")

    def wait_for_event(self, kind: str, timeout: float = 20) -> dict[str, Any]:
        """The next event of `kind` (e.g. CALL_ESTABLISHED); the others seen on the way are skipped."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self._events.get(timeout=left)
            except queue.Empty:
                break
            if message.get("event") and message.get("type") == kind:
                return message
            seen.append(json.dumps(message))
        raise AssertionError(
            f"baresip {self.number}: no {kind} within {timeout} s; saw:\n" + "\n".join(seen) + f"\n{self.output()}"
        )

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
        if self.process is not None:
            stop_process(self.process, timeout=10)
        for thread in self._threads:
            thread.join(timeout=5)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
