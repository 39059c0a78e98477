"""The system as an operator starts it: the `privateline` command in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port

pytestmark = pytest.mark.subprocess


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "privateline", *args]


@pytest.fixture
def instance_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    # SIP on a free port: tests run side by side, and 5060 may be taken on the machine.
    env.update(
        PRIVATELINE_DATA_DIR=str(tmp_path / "instance"), PRIVATELINE_DATABASE_URL=database_url, PRIVATELINE_SIP_PORT="0"
    )
    return env


@pytest.fixture
def running(instance_env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        command("serve", "--http-port", str(port)),
        env=instance_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.communicate()[0]
                pytest.fail(f"serve did not come up:\n{output}")
            time.sleep(0.1)
    yield url, process
    if process.poll() is None:
        process.terminate()
    process.communicate(timeout=20)


@pytest.mark.promise("R-1", "R-10")
def test_serve_answers_the_german_notice_naming_controller_dpo_and_authority(
    running: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _process = running
    page = httpx.get(f"{url}/privacy?lang=de").text
    assert "Datenschutz" in page
    assert "Example Telecom" in page or "Beispiel" in page
    assert "Aufsichtsbehörde" in page
    assert "Datenschutzbeauftragte" in page


def test_serve_offers_every_page_the_index_links_to(running: tuple[str, subprocess.Popen[str]]) -> None:
    url, _process = running
    index = httpx.get(f"{url}/").text
    for path in ("/privacy", "/privacy-center", "/config-helper", "/device", "/dpo"):
        assert f'href="{path}"' in index
        answer = httpx.get(f"{url}{path}", follow_redirects=True)
        assert answer.status_code == 200, (path, answer.status_code)
        assert "<form" in answer.text or path in ("/privacy", "/privacy-center", "/config-helper")
    # The console asks its own sign-in, not the phone's.
    assert 'name="password"' in httpx.get(f"{url}/dpo", follow_redirects=True).text


def test_serve_prints_its_urls_and_stops_cleanly_on_sigterm(
    running: tuple[str, subprocess.Popen[str]],
) -> None:
    url, process = running
    process.terminate()
    output, _ = process.communicate(timeout=20)
    # uvicorn re-raises the signal after a graceful shutdown, so the exit status says SIGTERM.
    assert process.returncode in (0, -15)
    assert "Application shutdown complete" in output
    assert f"{url}/privacy" in output
    assert "EXAMPLE values" in output


def test_serve_refuses_to_start_when_check_fails(instance_env: dict[str, str], database_url: str) -> None:
    import sqlalchemy as sa

    from privateline.storage.database import open_engine

    engine = open_engine(database_url)
    with engine.begin() as c:
        c.execute(sa.text("ALTER TABLE access_log ADD COLUMN phone_number VARCHAR(40)"))
    engine.dispose()
    result = subprocess.run(
        command("serve", "--http-port", str(free_port())),
        env=instance_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "refusing to start" in result.stderr
    assert "access_log.phone_number" in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = dict(os.environ, PRIVATELINE_DATA_DIR=str(tmp_path / "fresh"), PRIVATELINE_SIP_PORT="0")
    env.pop("PRIVATELINE_DATABASE_URL", None)
    result = subprocess.run(
        command("serve", "--http-port", str(free_port())), env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "privateline migrate" in result.stderr
