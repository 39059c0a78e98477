"""Ending the servers and peers a test started in other processes."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def stop_process(process: subprocess.Popen[Any], *, timeout: float) -> None:
    """Ask `process` to end (SIGTERM: a graceful stop, as an operator's), and kill it when it has
    not ended within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
