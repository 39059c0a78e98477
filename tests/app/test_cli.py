from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from privateline.app.cli import app
from privateline.register.loader import load_register

runner = CliRunner()


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PRIVATELINE_DATA_DIR": str(tmp_path / "var"), **extra}


def test_help_explains_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", "check", "notice", "ropa", "sweep", "audit", "promises", "migrate"):
        assert name in result.output


@pytest.mark.parametrize("lang", ["en", "de", "nl"])
def test_notice_command_renders_markdown_in_each_language(tmp_path: Path, lang: str) -> None:
    result = runner.invoke(app, ["notice", "--lang", lang, "--format", "md"], env=env_for(tmp_path))
    assert result.exit_code == 0, result.output
    assert load_register().version in result.output
    assert load_register().register.controller.name in result.output


def test_notice_command_refuses_an_unknown_language(tmp_path: Path) -> None:
    result = runner.invoke(app, ["notice", "--lang", "fr"], env=env_for(tmp_path))
    assert result.exit_code == 2
    assert "fr" in result.output


def test_ropa_exports_one_record_per_activity(tmp_path: Path) -> None:
    loaded = load_register()
    as_json = runner.invoke(app, ["ropa", "--format", "json"], env=env_for(tmp_path))
    as_csv = runner.invoke(app, ["ropa", "--format", "csv"], env=env_for(tmp_path))
    assert as_json.exit_code == 0 and as_csv.exit_code == 0
    records = json.loads(as_json.output)["records"]
    assert {r["activity"] for r in records} == set(loaded.register.activities)
    access = next(r for r in records if r["activity"] == "website_access_log")
    assert access["retention"]["period"] == "7 days"
    assert access["legal_basis"] == "Art. 6(1)(f) GDPR"
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert len(rows) == len(records)


def test_a_malformed_register_is_exit_code_2_with_the_field_path(tmp_path: Path) -> None:
    bad = tmp_path / "register.yaml"
    bad.write_text("controller: {name: x}\nactivities: {}\n", "utf-8")
    result = runner.invoke(app, ["ropa"], env=env_for(tmp_path, PRIVATELINE_REGISTER_PATH=str(bad)))
    assert result.exit_code == 2
    assert "controller.address" in result.output
    assert "Traceback" not in result.output


def test_a_bad_setting_is_exit_code_2_naming_the_variable(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check"], env=env_for(tmp_path, PRIVATELINE_HTTP_PORT="eighty"))
    assert result.exit_code == 2
    assert "PRIVATELINE_HTTP_PORT" in result.output


def test_settings_come_from_a_toml_file_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "privateline.toml"
    config.write_text('data_dir = "from-file"\nhttp_port = 9000\n', "utf-8")
    from privateline.app.config import load_settings

    # Whatever the calling shell exports must not decide this test.
    for name in [n for n in os.environ if n.startswith("PRIVATELINE_")]:
        monkeypatch.delenv(name)
    settings = load_settings(config)
    assert settings.http_port == 9000
    assert str(settings.data_dir) == "from-file"
    monkeypatch.setenv("PRIVATELINE_HTTP_PORT", "9001")
    assert load_settings(config).http_port == 9001
    assert str(load_settings(config).data_dir) == "from-file"


def test_keys_are_generated_once_private_to_the_owner(tmp_path: Path) -> None:
    from privateline.app.keys import instance_key

    first = instance_key(tmp_path, "pseudonym", None)
    again = instance_key(tmp_path, "pseudonym", None)
    other = instance_key(tmp_path / "other", "pseudonym", None)
    assert first == again
    assert first != other
    mode = stat.S_IMODE((tmp_path / "keys" / "pseudonym.key").stat().st_mode)
    assert mode == 0o600
