"""The purpose gate: may this subject's data be used for this activity now, and why (or why not)?

Every service asks the gate; none decides this itself.  The answer follows from the
register's legal basis for the activity and from what the subject has said:

* a **restriction** (Art. 18, R-7) stops every use but storage;
* a service the subject **switched off** (DEV-10) is not used;
* an **objection** (Art. 21, R-8) to direct marketing stops it unconditionally; to
  processing on legitimate interests it stops it unless the DPO recorded compelling
  grounds;
* processing **on consent** (Art. 6(1)(a)) needs a current consent (R-9, WEB-8);
* otherwise the legal basis carries the processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from privateline.kernel.consent import ConsentState


class Use(StrEnum):
    STORE = "store"  # keeping what is held: allowed under restriction
    PROCESS = "process"  # any other use


class Ground(StrEnum):
    """Why the gate answered as it did, so a service can tell the subject in their own words."""

    STORED_ONLY = "stored_only"  # restricted, and only storage was asked for (Art. 18(2))
    RESTRICTED = "restricted"  # Art. 18, R-7
    SWITCHED_OFF = "switched_off"  # DEV-10
    OBJECTED = "objected"  # Art. 21, R-8
    NO_CONSENT = "no_consent"  # Art. 6(1)(a), 7(3), R-9
    CONSENT = "consent"
    LEGAL_BASIS = "legal_basis"
    UNDECLARED = "undeclared"  # the register describes no such activity: no purpose, no use (Art. 5(1)(b))


@dataclass(frozen=True)
class Facts:
    """What is known about the subject and the activity at the moment of asking."""

    lawful_basis: str  # "a" to "f", from the register
    consent_required: bool
    direct_marketing: bool
    restricted: bool = False
    switched_off: bool = False
    objected: bool = False
    compelling_grounds: bool = False  # recorded by the DPO after an objection (Art. 21(1))
    consent: ConsentState | None = None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    ground: Ground = Ground.LEGAL_BASIS

    def __bool__(self) -> bool:
        return self.allowed


def decide(facts: Facts, use: Use = Use.PROCESS) -> Verdict:
    if facts.restricted:
        if use is Use.STORE:
            return Verdict(True, "restricted: stored only (Art. 18(2))", Ground.STORED_ONLY)
        return Verdict(False, "processing is restricted at the subject's request (Art. 18)", Ground.RESTRICTED)
    if facts.switched_off:
        return Verdict(False, "the subject switched this service off", Ground.SWITCHED_OFF)
    if facts.objected:
        if facts.direct_marketing:
            return Verdict(False, "the subject objected to direct marketing (Art. 21(3))", Ground.OBJECTED)
        if facts.lawful_basis in ("e", "f") and not facts.compelling_grounds:
            return Verdict(False, "the subject objected; no compelling grounds recorded (Art. 21(1))", Ground.OBJECTED)
    if facts.consent_required or facts.lawful_basis == "a":
        if facts.consent is None or not facts.consent.given:
            reason = facts.consent.reason if facts.consent is not None else "never given"
            return Verdict(False, f"no current consent ({reason})", Ground.NO_CONSENT)
        return Verdict(True, f"consent {facts.consent.reason}", Ground.CONSENT)
    return Verdict(True, f"Art. 6(1)({facts.lawful_basis}) GDPR", Ground.LEGAL_BASIS)
