"""The `recipient_endpoints` setting: where recipients receive Art. 19 notices (R-5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from privateline.app.config import ConfigError, load_settings

SECRET = "a-signing-secret-of-at-least-32-characters"


def test_endpoints_come_from_the_file_or_the_environment_and_the_secret_is_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRIVATELINE_CONFIG", raising=False)
    config = tmp_path / "privateline.toml"
    config.write_text(
        f'[recipient_endpoints.repair_service]\nurl = "https://repairs.example.net/notices"\nsecret = "{SECRET}"\n'
    )
    endpoint = load_settings(config).recipient_endpoints["repair_service"]
    assert endpoint.url == "https://repairs.example.net/notices"
    assert endpoint.secret.get_secret_value() == SECRET
    assert SECRET not in repr(load_settings(config))

    value = {"group_logistics": {"url": "https://logistics.example.net/h", "secret": SECRET, "ca_file": "ca.pem"}}
    monkeypatch.setenv("PRIVATELINE_RECIPIENT_ENDPOINTS", json.dumps(value))
    from_env = load_settings().recipient_endpoints["group_logistics"]
    assert from_env.ca_file == Path("ca.pem")


@pytest.mark.parametrize(
    "endpoint",
    [
        {"url": "http://repairs.example.net/notices", "secret": SECRET},  # not HTTPS
        {"url": "https://repairs.example.net/notices", "secret": "short"},
        {"url": "https://repairs.example.net/notices"},
    ],
)
def test_an_unusable_endpoint_is_refused_without_echoing_the_secret(
    monkeypatch: pytest.MonkeyPatch, endpoint: dict[str, str]
) -> None:
    monkeypatch.delenv("PRIVATELINE_CONFIG", raising=False)
    monkeypatch.setenv("PRIVATELINE_RECIPIENT_ENDPOINTS", json.dumps({"repair_service": endpoint}))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "recipient_endpoints" in str(caught.value)
    assert "short" not in str(caught.value)
