"""`privateline devices` and `privateline firmware` as an operator runs them (DEV-2, DEV-9)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from privateline.app.cli import app
from privateline.services.devices.credentials import ha1, matches_portal_hash
from privateline.services.devices.records import device
from privateline.storage.database import Database

runner = CliRunner()


def env_for(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"PRIVATELINE_DATA_DIR": str(tmp_path / "var"), "PRIVATELINE_DATABASE_URL": database_url}


def factory_file(path: Path, count: int, bad_line: int | None = None, bad_field: str = "mac") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["serial", "mac", "product", "number", "password"])
        for i in range(count):
            row = {
                "serial": f"S{i:07d}",
                "mac": f"7c-2f-80-{i >> 16 & 0xFF:02x}-{i >> 8 & 0xFF:02x}-{i & 0xFF:02x}",
                "product": "Gigaset C430 IP",
                "number": f"{100000 + i}",
                "password": f"pw-{i:08d}",
            }
            if bad_line is not None and i + 2 == bad_line:
                row[bad_field] = "not-a-mac" if bad_field == "mac" else "x"
            writer.writerow(row.values())
    return path


def device_rows(database_url: str) -> list[sa.Row[tuple[object, ...]]]:
    database = Database.open(database_url)
    try:
        with database.reading() as connection:
            return list(connection.execute(sa.select(device).order_by(device.c.number)))
    finally:
        database.dispose()


@pytest.mark.promise("DEV-2")
def test_a_factory_file_is_imported_with_passwords_only_in_the_forms_the_services_need(
    database_url: str, tmp_path: Path
) -> None:
    source = factory_file(tmp_path / "factory.csv", 250)  # enough to hash on every core
    result = runner.invoke(
        app, ["devices", "import", str(source), "--no-progress"], env=env_for(database_url, tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert "imported 250 device(s)" in result.output
    rows = device_rows(database_url)
    assert len(rows) == 250
    first = rows[0]
    assert (first.number, first.serial, first.mac) == ("100000", "S0000000", "7C2F80000000")
    assert first.sip_ha1_md5 == ha1("md5", "100000", "privateline", "pw-00000000")
    assert first.sip_ha1_sha256 == ha1("sha256", "100000", "privateline", "pw-00000000")
    assert first.portal_hash.startswith("$argon2id$")
    assert matches_portal_hash(first.portal_hash, "pw-00000000")
    everything = " ".join(str(v) for row in rows for v in row)
    assert "pw-00000000" not in everything and "pw-00000249" not in everything


@pytest.mark.promise("DEV-2")
@pytest.mark.parametrize(("bad_field", "reason"), [("mac", "twelve hexadecimal digits"), ("number", "2 to 15 digits")])
def test_a_file_with_one_bad_row_imports_nothing_and_names_the_line(
    database_url: str, tmp_path: Path, bad_field: str, reason: str
) -> None:
    source = factory_file(tmp_path / "factory.csv", 300, bad_line=277, bad_field=bad_field)
    result = runner.invoke(
        app, ["devices", "import", str(source), "--no-progress"], env=env_for(database_url, tmp_path)
    )
    assert result.exit_code == 2
    assert "line 277" in result.output and reason in result.output
    assert "nothing was imported" in result.output
    assert device_rows(database_url) == []


def test_numbers_serials_and_macs_already_in_service_are_refused_whole_file(database_url: str, tmp_path: Path) -> None:
    env = env_for(database_url, tmp_path)
    assert runner.invoke(app, ["devices", "import", str(factory_file(tmp_path / "a.csv", 3))], env=env).exit_code == 0
    again = runner.invoke(app, ["devices", "import", str(factory_file(tmp_path / "b.csv", 5))], env=env)
    assert again.exit_code == 2
    assert "line 2: number 100000 belongs to a device already in the records" in again.output
    assert len(device_rows(database_url)) == 3


def test_duplicates_within_a_file_are_named_with_both_lines(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "dup.csv"
    source.write_text(
        "serial,mac,product,number,password\nA1,00:11:22:33:44:01,P,2001,password1\nA2,00-11-22-33-44-01,P,2002,password2\n",
        "utf-8",
    )
    result = runner.invoke(app, ["devices", "import", str(source)], env=env_for(database_url, tmp_path))
    assert result.exit_code == 2
    assert "line 3: mac 001122334401 already appears on line 2" in result.output


def test_add_show_disable_a_single_device(database_url: str, tmp_path: Path) -> None:
    env = env_for(database_url, tmp_path)
    added = runner.invoke(
        app,
        ["devices", "add", "--number", "4711", "--serial", "SN1", "--mac", "0011.2233.4455", "--product", "N510"],
        input="factory-pw\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    shown = runner.invoke(app, ["devices", "show", "4711"], env=env)
    assert shown.exit_code == 0
    assert "00:11:22:33:44:55" in shown.output and "factory-pw" not in shown.output
    assert runner.invoke(app, ["devices", "disable", "4711"], env=env).exit_code == 0
    assert device_rows(database_url)[0].in_service is False
    missing = runner.invoke(app, ["devices", "show", "999"], env=env)
    assert missing.exit_code == 2 and "no device with number 999" in missing.output


def test_firmware_add_checks_its_input(database_url: str, tmp_path: Path) -> None:
    env = env_for(database_url, tmp_path)
    base = ["firmware", "add", "--product", "N510", "--version", "42.250", "--notes-en", "x", "--notes-de", "y"]
    bad = runner.invoke(app, [*base, "--url", "ftp://x/y", "--notes-nl", "z"], env=env)
    assert bad.exit_code == 2 and "not an http(s) address" in bad.output
    good = runner.invoke(app, [*base, "--url", "https://u.example/f.bin", "--notes-nl", "z"], env=env)
    assert good.exit_code == 0, good.output
    listed = runner.invoke(app, ["firmware", "list"], env=env)
    assert "42.250" in listed.output
