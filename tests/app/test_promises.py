from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from privateline.app.cli import app
from privateline.app.promises import catalogue, read_report, statuses

EXPECTED = (
    [f"DEV-{i}" for i in range(1, 12)]
    + [f"WEB-{i}" for i in range(1, 16)]
    + [f"CARE-{i}" for i in range(1, 14)]
    + [f"R-{i}" for i in range(1, 15)]
)


def test_the_catalogue_lists_every_promise_of_the_notice_once() -> None:
    assert [p.id for p in catalogue()] == EXPECTED
    assert all(p.title for p in catalogue())


def test_a_promise_is_kept_only_when_every_test_naming_it_passed(tmp_path: Path) -> None:
    report = tmp_path / "promises.json"
    report.write_text(
        json.dumps(
            {
                "generated_at": "now",
                "tests": [
                    {"nodeid": "t::a", "promises": ["WEB-7"], "outcome": "passed"},
                    {"nodeid": "t::b", "promises": ["WEB-6"], "outcome": "passed"},
                    {"nodeid": "t::c", "promises": ["WEB-6"], "outcome": "failed"},
                ],
            }
        ),
        "utf-8",
    )
    by_id = {s.promise.id: s for s in statuses(catalogue(), read_report(report))}
    assert by_id["WEB-7"].state == "kept"
    assert by_id["WEB-6"].state == "broken"
    assert by_id["DEV-3"].state == "open"
    result = CliRunner().invoke(app, ["promises", "--report", str(report), "--markdown"])
    assert result.exit_code == 1
    assert "| WEB-7 |" in result.output
    assert "broken" in result.output


def test_without_a_report_nothing_is_kept(tmp_path: Path) -> None:
    rows = statuses(catalogue(), read_report(tmp_path / "missing.json"))
    assert {s.state for s in rows} <= {"open", "not applicable"}
