"""pytest plugin: tie tests to promise ids and write the report `privateline promises` reads.

`@pytest.mark.promise("WEB-7")` names the promises a test proves.  An id that the
project's catalogue does not know is a collection error, so a typo cannot make a
promise look kept.  At the end of a run the outcome of every promise test is written to
reports/promises.json (or $PRIVATELINE_PROMISE_REPORT); with xdist the controller
collects the workers' results.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from privateline.app.promises import DEFAULT_REPORT, catalogue

_KNOWN = {p.id for p in catalogue()}
_results: dict[str, dict[str, object]] = {}


def _report_path(config: pytest.Config) -> Path:
    configured = os.environ.get("PRIVATELINE_PROMISE_REPORT")
    return Path(configured) if configured else Path(config.rootpath) / DEFAULT_REPORT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in item.iter_markers("promise"):
            unknown = [pid for pid in marker.args if pid not in _KNOWN]
            if not marker.args or unknown:
                raise pytest.UsageError(f"{item.nodeid}: unknown promise id(s) {unknown or '(none given)'}")
        ids = sorted({pid for m in item.iter_markers("promise") for pid in m.args})
        if ids:
            item.user_properties.append(("promises", ids))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    ids = next((v for k, v in report.user_properties if k == "promises"), None)
    if not ids:
        return
    entry = _results.setdefault(report.nodeid, {"nodeid": report.nodeid, "promises": ids, "outcome": "passed"})
    if report.failed:
        entry["outcome"] = "failed"
    elif report.skipped and report.when in ("setup", "call"):
        entry["outcome"] = "skipped"


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput") or not _results:
        return  # an xdist worker: the controller writes the report
    path = _report_path(session.config)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tests": sorted(_results.values(), key=lambda e: str(e["nodeid"])),
    }
    path.write_text(json.dumps(data, indent=1) + "\n", "utf-8")
