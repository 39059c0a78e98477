"""Automated privacy signals of the subject's browser (Art. 21(5) GDPR, R-8).

Art. 21(5) lets a data subject object "by automated means using technical
specifications".  Global Privacy Control is such a specification: a browser whose user
turned it on sends `Sec-GPC: 1` with every request.  privateline takes it as an
objection to optional marketing and analytics, for every subject kind: the website's
consent banner does not ask for or assume them, and the device portal records the
objection for the signed-in phone.

Nothing here touches a request object, a framework or a database: `gpc_objects` reads
a plain mapping of header names to values, so any caller (an ASGI middleware, a
Starlette request's `headers`, a test) can use it.
"""

from __future__ import annotations

from collections.abc import Mapping

from privateline.register.model import Activity, Objection, Register

GPC_HEADER = "sec-gpc"
# A category of these families is data about how someone uses a site or an app.
_ANALYTICS_FAMILIES = ("user.analytics.",)


def gpc_objects(headers: Mapping[str, str]) -> bool:
    """True when the headers carry the Global Privacy Control signal (`Sec-GPC: 1`).

    Header names are compared without regard to case (RFC 9110 §5.1).  The specification
    defines the value "1" only; anything else is no signal at all.
    """
    return any(name.lower() == GPC_HEADER and value.strip() == "1" for name, value in headers.items())


def optional_marketing_or_analytics(activity: Activity) -> bool:
    """What the GPC signal objects to: direct marketing and analytics that a subject may object to.

    Only activities open to objection under Art. 21 count (unconditional: direct
    marketing; weighed: legitimate interests).  Those resting on consent are never
    begun without consent, so the signal needs no record for them: whoever asks for
    consent (the banner) calls `gpc_objects` and does not ask or assume.
    """
    if activity.objection not in (Objection.UNCONDITIONAL, Objection.WEIGHED):
        return False
    return activity.direct_marketing or any(c.startswith(_ANALYTICS_FAMILIES) for c in activity.categories)


def gpc_activities(register: Register, subject_kind: str) -> list[str]:
    """The activities about `subject_kind` that a GPC signal objects to, in register order."""
    return [
        aid
        for aid, activity in register.activities.items()
        if subject_kind in activity.subjects and optional_marketing_or_analytics(activity)
    ]
