"""The promise table: every promise of the notice, and what keeps it.

A promise is **kept** when at least one test names it (``@pytest.mark.promise("WEB-7")``)
and every test naming it passed in the last test run; **not applicable** when the
catalogue gives a reason; otherwise **open** (no test names it) or **broken** (a test
naming it failed).  The statuses are computed from the catalogue and the report the
test run writes, so they cannot drift from the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DEFAULT_REPORT = Path("reports/promises.json")


@dataclass(frozen=True)
class Promise:
    id: str
    title: str
    register: bool
    not_applicable: str | None


@dataclass
class PromiseStatus:
    promise: Promise
    state: str  # kept | not applicable | open | broken
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TestReport:
    generated_at: str
    # test node id -> (promise ids, outcome)
    tests: dict[str, tuple[tuple[str, ...], str]]


def catalogue() -> list[Promise]:
    text = resources.files("privateline.app").joinpath("promises.yaml").read_text("utf-8")
    entries: list[dict[str, Any]] = yaml.safe_load(text)
    return [Promise(e["id"], e["title"], bool(e.get("register", False)), e.get("not_applicable")) for e in entries]


def read_report(path: Path) -> TestReport | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return TestReport(
        generated_at=str(data.get("generated_at", "?")),
        tests={t["nodeid"]: (tuple(t["promises"]), str(t["outcome"])) for t in data.get("tests", [])},
    )


def statuses(promises: list[Promise], report: TestReport | None) -> list[PromiseStatus]:
    out = []
    for p in promises:
        status = PromiseStatus(p, "open")
        for nodeid, (ids, outcome) in (report.tests if report else {}).items():
            if p.id in ids:
                (status.passed if outcome == "passed" else status.failed).append(nodeid)
        if p.not_applicable:
            status.state = "not applicable"
        elif status.failed:
            status.state = "broken"
        elif status.passed:
            status.state = "kept"
        out.append(status)
    return out
