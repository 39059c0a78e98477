"""Retention planning: which rows of a store have outlived the register's rule.

The planner is pure: given a register activity and the moment of the sweep, it returns
the cut-off before which anchored rows must go (GDPR Art. 5(1)(e), promise R-11).  The
storage layer turns a plan into DELETE or UPDATE statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from privateline.register.model import Activity


@dataclass(frozen=True)
class RetentionCut:
    activity: str
    cutoff: datetime
    period: str


def retention_cut(activity_id: str, activity: Activity, now: datetime) -> RetentionCut | None:
    """The cut-off for a fixed-period rule; None when the rule has no fixed period.

    A rule of the form "while the subscription is active" is enforced by the service
    when the subscription ends, not by the periodic sweep.
    """
    period = activity.retention.period
    if period is None:
        return None
    return RetentionCut(activity=activity_id, cutoff=period.before(now), period=str(period))
