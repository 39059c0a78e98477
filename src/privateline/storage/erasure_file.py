"""The erasure journal's copy outside the database (R-4 after a restore).

A database restored from a backup taken before an erasure no longer knows about the
erasure, not even in its own journal table.  So every erasure is also appended to
`erasure-journal.jsonl` in the data directory, by pseudonym only, and flushed to disk
*before* the erasure commits: if the commit fails, the line names a subject who asked
to be erased anyway.  `privateline rights replay` reads this file.  Keep it out of
database restores: it only ever grows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

FILE_NAME = "erasure-journal.jsonl"


@dataclass(frozen=True)
class JournalLine:
    subject_kind: str
    subject: str  # keyed pseudonym
    at: datetime
    request_id: str | None


class ErasureFile:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE_NAME

    def append(self, line: JournalLine) -> None:
        record = {
            "subject_kind": line.subject_kind,
            "subject": line.subject,
            "at": line.at.isoformat(),
            "request_id": line.request_id,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def lines(self) -> list[JournalLine]:
        if not self.path.exists():
            return []
        found = []
        for number, text in enumerate(self.path.read_text("utf-8").splitlines(), start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
                found.append(
                    JournalLine(
                        record["subject_kind"],
                        record["subject"],
                        datetime.fromisoformat(record["at"]),
                        record.get("request_id"),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{self.path}:{number}: not a journal line ({exc})") from None
        return found
