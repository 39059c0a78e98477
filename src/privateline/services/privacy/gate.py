"""The one place a service asks whether a subject's data may be used for an activity now (R-7, R-8, R-9).

`PurposeGate.verdict` gathers what is known at the moment of asking and hands it to the
pure `privateline.kernel.gate.decide`:

* from the **register**: the activity's legal basis, whether it needs consent and
  whether it is direct marketing; an activity the register does not describe has no
  purpose and is never used (Art. 5(1)(b));
* from the **subject's own statements** (`storage.subject_rights`): a standing
  restriction of this activity, of the activities whose stores hold the data used
  (`data_from`), or of everything (Art. 18, R-7); a standing objection and the DPO's
  decision on it (Art. 21, R-8);
* from the **consent ledger**: the consent in force for the activity at that moment
  (Art. 7(3), R-9), asked for only when the activity rests on consent;
* from the caller: whether the subject switched the service off (DEV-10).

Services never read those tables to decide for themselves; they call this and act on
the verdict, whose `ground` tells them which message to show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from privateline.kernel.clock import Clock
from privateline.kernel.gate import Facts, Ground, Use, Verdict, decide
from privateline.register.model import LawfulBasis, Register
from privateline.services.privacy.held import Subject
from privateline.storage.consent_ledger import ConsentLedger
from privateline.storage.subject_rights import ALL_ACTIVITIES, ObjectionState, SubjectRights


class GateRefusedError(Exception):
    """A use the gate refused; `verdict` says why."""

    def __init__(self, activity: str, verdict: Verdict) -> None:
        super().__init__(f"{activity}: {verdict.reason}")
        self.activity = activity
        self.verdict = verdict


@dataclass(frozen=True)
class PurposeGate:
    register: Register
    clock: Clock

    def facts(
        self,
        connection: Connection,
        subject: Subject,
        activity: str,
        at: datetime,
        *,
        data_from: Iterable[str] = (),
        switched_off: bool = False,
    ) -> Facts | None:
        """What `decide` needs; None when the register describes no such activity."""
        described = self.register.activities.get(activity)
        if described is None:
            return None
        rights = SubjectRights(connection)
        # Art. 18 restricts the data, whatever purpose asks for it: a restriction of the
        # activity whose store holds it stops its use by any other activity too.
        restricted = bool(rights.restricted_activities(subject.pseudonym) & {activity, ALL_ACTIVITIES, *data_from})
        objection = rights.objections(subject.pseudonym).get(activity)
        basis = described.legal_basis.gdpr
        on_consent = described.consent.required or basis is LawfulBasis.CONSENT
        return Facts(
            lawful_basis=basis.value,
            consent_required=described.consent.required,
            direct_marketing=described.direct_marketing,
            restricted=restricted,
            switched_off=switched_off,
            # A pending objection stops the processing until the DPO has weighed it (Art. 21(1):
            # "shall no longer process ... unless the controller demonstrates compelling grounds").
            objected=objection is not None,
            compelling_grounds=objection is ObjectionState.OVERRIDDEN,
            consent=ConsentLedger(connection).current(subject.pseudonym, activity, at) if on_consent else None,
        )

    def verdict(
        self,
        connection: Connection,
        subject: Subject,
        activity: str,
        use: Use = Use.PROCESS,
        *,
        at: datetime | None = None,
        data_from: Iterable[str] = (),
        switched_off: bool = False,
    ) -> Verdict:
        """May `subject`'s data be used for `activity` (at `at`, by default now)?"""
        moment = at if at is not None else self.clock.now()
        facts = self.facts(connection, subject, activity, moment, data_from=data_from, switched_off=switched_off)
        if facts is None:
            return Verdict(False, f"the register describes no activity {activity!r}", Ground.UNDECLARED)
        return decide(facts, use)

    def require(
        self,
        connection: Connection,
        subject: Subject,
        activity: str,
        use: Use = Use.PROCESS,
        *,
        data_from: Iterable[str] = (),
        switched_off: bool = False,
    ) -> Verdict:
        """The verdict if it allows the use; else raises `GateRefusedError`."""
        verdict = self.verdict(connection, subject, activity, use, data_from=data_from, switched_off=switched_off)
        if not verdict:
            raise GateRefusedError(activity, verdict)
        return verdict
