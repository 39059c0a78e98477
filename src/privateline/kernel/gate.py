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

    def __bool__(self) -> bool:
        return self.allowed


def decide(facts: Facts, use: Use = Use.PROCESS) -> Verdict:
    if facts.restricted:
        if use is Use.STORE:
            return Verdict(True, "restricted: stored only (Art. 18(2))")
        return Verdict(False, "processing is restricted at the subject's request (Art. 18)")
    if facts.switched_off:
        return Verdict(False, "the subject switched this service off")
    if facts.objected:
        if facts.direct_marketing:
            return Verdict(False, "the subject objected to direct marketing (Art. 21(3))")
        if facts.lawful_basis in ("e", "f") and not facts.compelling_grounds:
            return Verdict(False, "the subject objected; no compelling grounds recorded (Art. 21(1))")
    if facts.consent_required or facts.lawful_basis == "a":
        if facts.consent is None or not facts.consent.given:
            reason = facts.consent.reason if facts.consent is not None else "never given"
            return Verdict(False, f"no current consent ({reason})")
        return Verdict(True, f"consent {facts.consent.reason}")
    return Verdict(True, f"Art. 6(1)({facts.lawful_basis}) GDPR")
