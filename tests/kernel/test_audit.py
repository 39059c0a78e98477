from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from privateline.kernel.audit import AuditEntry, Checkpoint, next_entry, verify_chain

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    previous: AuditEntry | Checkpoint = Checkpoint()
    for i in range(n):
        entry = next_entry(previous, T0 + timedelta(minutes=i), "event", f"subject-{i}", {"i": i})
        entries.append(entry)
        previous = entry
    return entries


def test_an_intact_chain_verifies() -> None:
    result = verify_chain(chain(5))
    assert result.intact
    assert result.checked == 5
    assert result.head.seq == 5


def test_a_changed_entry_is_named() -> None:
    entries = chain(5)
    entries[2] = replace(entries[2], detail={"i": 99})
    result = verify_chain(entries)
    assert result.broken_at == 3
    assert result.reason is not None and "changed" in result.reason


def test_a_removed_entry_is_named() -> None:
    entries = chain(5)
    del entries[1]
    result = verify_chain(entries)
    assert result.broken_at == 3
    assert result.checked == 1


def test_reordered_entries_are_named() -> None:
    entries = chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    assert verify_chain(entries).broken_at == 3


def test_renumbered_entries_do_not_hide_a_removal() -> None:
    entries = chain(5)
    del entries[1]
    entries[1:] = [replace(e, seq=e.seq - 1) for e in entries[1:]]
    result = verify_chain(entries)
    assert result.broken_at == 2
    assert result.reason is not None and "link" in result.reason


def test_verification_can_start_after_a_pruned_prefix() -> None:
    entries = chain(5)
    start = Checkpoint(entries[1].seq, entries[1].hash)
    assert verify_chain(entries[2:], start).intact
    assert not verify_chain(entries[3:], start).intact
