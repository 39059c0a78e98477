"""The records of processing activities (GDPR Art. 30(1)) as CSV or JSON.

One record per activity with the fields Art. 30(1)(a)-(g) asks for: the controller and
DPO, the purpose, the categories of subjects and data, the recipients (with third
countries and safeguards), the time limits for erasure, and a pointer to the security
measures.  JSON keeps the structure for machines; CSV is one row per activity for a
spreadsheet, with lists joined by "; ".
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from privateline.register.model import Activity, Register

RopaFormat = Literal["csv", "json"]

SECURITY_MEASURES = (
    "docs/SECURITY.md: argon2 password hashing, CSRF-protected forms, rate-limited sign-in, "
    "IP addresses shortened before storage, keyed pseudonyms in the audit chain, hash-chained audit log"
)


def _retention(activity: Activity) -> dict[str, Any]:
    rule = activity.retention
    return {
        "period": None if rule.period is None else str(rule.period),
        "anchor": rule.anchor.value,
        "while_active": None if rule.while_active is None else rule.while_active.en,
        "legal_hold": None
        if rule.legal_hold is None
        else {"period": str(rule.legal_hold.period), "basis": rule.legal_hold.basis},
    }


def records(register: Register, version: str) -> list[dict[str, Any]]:
    out = []
    for aid, a in register.activities.items():
        out.append(
            {
                "register_version": version,
                "activity": aid,
                "part": a.part,
                "name": a.name.en,
                "controller": register.controller.name,
                "dpo": f"{register.dpo.name} <{register.dpo.email}>",
                "purpose": a.purpose.en,
                "legal_basis": a.legal_basis.article,
                "provisions": list(a.legal_basis.provisions),
                "legitimate_interest": None if a.legal_basis.interest is None else a.legal_basis.interest.en,
                "data_subjects": list(a.subjects),
                "data_categories": list(a.categories),
                "source": a.source.kind.value,
                "recipients": [
                    {"id": rid, "name": r.name, "role": r.role.value, "country": r.country}
                    for rid, r in register.recipients_of(a)
                ],
                "third_country_transfers": [
                    {"recipient": rid, "country": r.country, "safeguard": r.safeguard.value}
                    for rid, r in register.third_country_transfers(a)
                ],
                "retention": _retention(a),
                "consent_required": a.consent.required,
                "consent_lasts": None if a.consent.lasts is None else str(a.consent.lasts),
                "deactivatable": a.deactivatable,
                "objection": a.objection.value,
                "security_measures": SECURITY_MEASURES,
            }
        )
    return out


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(_flat(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items() if v not in (None, [], ""))
    return str(value)


def render_ropa(register: Register, version: str, fmt: RopaFormat) -> str:
    rows = records(register, version)
    if fmt == "json":
        return json.dumps({"register_version": version, "records": rows}, indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()) if rows else ["activity"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _flat(v) for k, v in row.items()})
    return buffer.getvalue()
