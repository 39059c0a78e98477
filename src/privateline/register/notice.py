"""The privacy notice (GDPR Art. 13 and 14), rendered from the register.

`notice_view` turns the register into plain, already-translated texts; the templates
only lay them out as HTML or Markdown.  Nothing in the notice is written by hand
outside the register and the translation catalogs, so it cannot drift from what the
system does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from babel.dates import format_date
from babel.support import NullTranslations
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from privateline.register.i18n import translations
from privateline.register.model import (
    Activity,
    Anchor,
    LawfulBasis,
    Objection,
    Party,
    RecipientRole,
    Register,
    SourceKind,
    TransferSafeguard,
)
from privateline.register.periods import RetentionPeriod

NoticeFormat = Literal["html", "md"]


@dataclass(frozen=True)
class PartyView:
    role: str
    name: str
    address: list[str]
    phone: str
    email: str
    website: str | None


@dataclass(frozen=True)
class RecipientView:
    name: str
    description: str
    role: str
    country: str
    transfer: str | None  # set when the recipient is outside the EEA


@dataclass(frozen=True)
class ActivityView:
    id: str
    name: str
    purpose: str
    legal_basis: str
    provisions: list[str]
    interest: str | None
    categories: list[str]
    subjects: list[str]
    source: str
    recipients: list[RecipientView]
    retention: str
    consent: str | None
    deactivatable: bool
    objection: str
    automated_decision: str


@dataclass(frozen=True)
class PartView:
    label: str
    activities: list[ActivityView]


@dataclass(frozen=True)
class VersionView:
    version: str
    published: str | None
    current: bool


@dataclass(frozen=True)
class ChangeView:
    date: str
    summary: str


@dataclass(frozen=True)
class NoticeView:
    lang: str
    version: str
    example_values: bool
    controller: PartyView
    dpo: PartyView
    authority: PartyView
    parts: list[PartView]
    rights: list[tuple[str, str]]
    changes: list[ChangeView]
    versions: list[VersionView] = field(default_factory=list)


@dataclass(frozen=True)
class PublishedVersion:
    version: str
    published_at: datetime


class _Texts:
    """The translated fixed texts of one language (extracted by Babel from `_()` calls)."""

    def __init__(self, t: NullTranslations, lang: str) -> None:
        self.t = t
        self.lang = lang

    def _(self, message: str) -> str:
        return self.t.gettext(message)

    def period(self, period: RetentionPeriod) -> str:
        n = period.count
        if period.unit == "day":
            return self.t.ngettext("%(num)d day", "%(num)d days", n) % {"num": n}
        if period.unit == "week":
            return self.t.ngettext("%(num)d week", "%(num)d weeks", n) % {"num": n}
        if period.unit == "month":
            return self.t.ngettext("%(num)d month", "%(num)d months", n) % {"num": n}
        return self.t.ngettext("%(num)d year", "%(num)d years", n) % {"num": n}

    def anchor(self, anchor: Anchor) -> str:
        _ = self._
        return {
            Anchor.COLLECTION: _("from the time the data is collected"),
            Anchor.LAST_REPORT: _("from the device's last report"),
            Anchor.LAST_ACTIVITY: _("from your last activity"),
            Anchor.CONSENT_GIVEN: _("from the time consent was given"),
            Anchor.CONTRACT_END: _("from the end of the contract"),
            Anchor.SUBSCRIPTION_END: _("from the end of the subscription"),
            Anchor.SERVICE_DEACTIVATED: _("from the time the service is switched off"),
            Anchor.REQUEST_CLOSED: _("from the time the request is closed"),
            Anchor.CASE_CLOSED: _("from the time the case is closed"),
            Anchor.END_OF_YEAR: _("from the end of the calendar year in which the record was made"),
        }[anchor]

    def basis(self, basis: LawfulBasis) -> str:
        _ = self._
        return {
            LawfulBasis.CONSENT: _("your consent (Art. 6(1)(a) GDPR)"),
            LawfulBasis.CONTRACT: _(
                "the performance of a contract with you, or steps you asked for before one (Art. 6(1)(b) GDPR)"
            ),
            LawfulBasis.LEGAL_OBLIGATION: _("a legal obligation we are subject to (Art. 6(1)(c) GDPR)"),
            LawfulBasis.VITAL_INTERESTS: _("the protection of vital interests (Art. 6(1)(d) GDPR)"),
            LawfulBasis.PUBLIC_TASK: _("a task carried out in the public interest (Art. 6(1)(e) GDPR)"),
            LawfulBasis.LEGITIMATE_INTERESTS: _("our legitimate interests (Art. 6(1)(f) GDPR)"),
        }[basis]

    def role(self, role: RecipientRole) -> str:
        _ = self._
        return {
            RecipientRole.PROCESSOR: _("processor bound by contract (Art. 28 GDPR)"),
            RecipientRole.GROUP_COMPANY: _("company of our group"),
            RecipientRole.AUTHORITY: _("public authority, where the law requires it"),
            RecipientRole.INDEPENDENT_CONTROLLER: _("independent controller"),
        }[role]

    def safeguard(self, safeguard: TransferSafeguard) -> str:
        _ = self._
        return {
            TransferSafeguard.ADEQUACY: _("adequacy decision of the European Commission (Art. 45 GDPR)"),
            TransferSafeguard.SCC: _("standard contractual clauses (Art. 46(2)(c) GDPR)"),
            TransferSafeguard.BCR: _("binding corporate rules (Art. 47 GDPR)"),
            TransferSafeguard.CONSENT: _("your explicit consent (Art. 49(1)(a) GDPR)"),
            TransferSafeguard.NONE_NEEDED: _("no transfer outside the European Economic Area"),
        }[safeguard]

    def objection(self, objection: Objection) -> str:
        _ = self._
        return {
            Objection.UNCONDITIONAL: _(
                "You can object at any time, without giving reasons; we then stop at once (Art. 21(2) and (3) GDPR)."
            ),
            Objection.WEIGHED: _(
                "You can object on grounds relating to your situation; we then stop unless we "
                "can show compelling legitimate grounds (Art. 21(1) GDPR)."
            ),
            Objection.WITHDRAW_CONSENT: _(
                "You can withdraw your consent at any time; processing before the "
                "withdrawal remains lawful (Art. 7(3) GDPR)."
            ),
            Objection.NOT_POSSIBLE: _("An objection does not stop this processing."),
        }[objection]

    def source(self, kind: SourceKind) -> str:
        _ = self._
        return {
            SourceKind.DATA_SUBJECT: _("from you"),
            SourceKind.DEVICE: _("from your device"),
            SourceKind.AUTOMATIC: _("generated automatically when you use the service"),
            SourceKind.THIRD_PARTY: _("from third parties"),
        }[kind]

    def date(self, value: date) -> str:
        return format_date(value, format="long", locale=self.lang)


def _party(role: str, party: Party) -> PartyView:
    return PartyView(role, party.name, party.address.lines(), party.phone, party.email, party.website)


def _retention(tx: _Texts, activity: Activity, lang: str) -> str:
    _ = tx._
    rule = activity.retention
    pieces: list[str] = []
    if rule.while_active is not None:
        pieces.append(rule.while_active.get(lang))
    if rule.period is not None:
        pieces.append(_("%(period)s %(anchor)s") % {"period": tx.period(rule.period), "anchor": tx.anchor(rule.anchor)})
    text = "; ".join(pieces)
    if rule.legal_hold is not None:
        text += "; " + _("then kept for %(period)s because %(law)s requires it, and used for nothing else") % {
            "period": tx.period(rule.legal_hold.period),
            "law": rule.legal_hold.basis,
        }
    return text


def _activity(tx: _Texts, register: Register, aid: str, activity: Activity, lang: str) -> ActivityView:
    _ = tx._
    recipients = [
        RecipientView(
            name=r.name,
            description=r.description.get(lang),
            role=tx.role(r.role),
            country=r.country,
            transfer=tx.safeguard(r.safeguard) if r.third_country else None,
        )
        for _rid, r in register.recipients_of(activity)
    ]
    consent = None
    if activity.consent.required:
        consent = _("Only with your consent.")
        if activity.consent.lasts is not None:
            consent += " " + _("A consent is valid for %(period)s; then we ask again.") % {
                "period": tx.period(activity.consent.lasts)
            }
    objection = tx.objection(activity.objection)
    if activity.objection_note is not None:
        objection += " " + activity.objection_note.get(lang)
    return ActivityView(
        id=aid,
        name=activity.name.get(lang),
        purpose=activity.purpose.get(lang),
        legal_basis=tx.basis(activity.legal_basis.gdpr),
        provisions=list(activity.legal_basis.provisions),
        interest=activity.legal_basis.interest.get(lang) if activity.legal_basis.interest else None,
        categories=[register.categories[k].label.get(lang) for k in activity.categories],
        subjects=[register.subjects[s].label.get(lang) for s in activity.subjects],
        source=f"{tx.source(activity.source.kind)}: {activity.source.detail.get(lang)}",
        recipients=recipients,
        retention=_retention(tx, activity, lang),
        consent=consent,
        deactivatable=activity.deactivatable,
        objection=objection,
        automated_decision=(
            activity.automated_decision.get(lang)
            if activity.automated_decision is not None
            else _("No automated decision-making or profiling (Art. 22 GDPR).")
        ),
    )


def _rights(tx: _Texts) -> list[tuple[str, str]]:
    _ = tx._
    return [
        (
            _("Access"),
            _(
                "You can ask whether we process data about you, and receive that data together with "
                "its purposes, categories, recipients, storage period, source and any transfer outside "
                "the European Economic Area (Art. 15 GDPR)."
            ),
        ),
        (
            _("Rectification"),
            _("You can have incorrect data corrected and incomplete data completed without delay (Art. 16 GDPR)."),
        ),
        (
            _("Erasure"),
            _(
                "You can have your data erased when it is no longer needed, you withdraw consent or "
                "object, or it was processed unlawfully; where a law obliges us to keep it, we keep it "
                "for that purpose alone and tell you so (Art. 17 GDPR)."
            ),
        ),
        (
            _("Restriction"),
            _("You can have the processing restricted; restricted data is only stored (Art. 18 GDPR)."),
        ),
        (
            _("Notification of recipients"),
            _(
                "We inform every recipient of a rectification, erasure or "
                "restriction, and tell you who they are on request (Art. 19 GDPR)."
            ),
        ),
        (
            _("Portability"),
            _(
                "You can receive the data you gave us, processed on consent or contract, in a "
                "structured, machine-readable format, or have it sent directly to another controller "
                "(Art. 20 GDPR)."
            ),
        ),
        (
            _("Objection"),
            _(
                "You can object to processing based on legitimate interests; to direct marketing "
                "at any time without reasons, also by automated means such as the Global Privacy "
                "Control signal of your browser (Art. 21 GDPR)."
            ),
        ),
        (
            _("Withdrawal of consent"),
            _("You can withdraw a consent at any time with effect for the future (Art. 7(3) GDPR)."),
        ),
        (
            _("Complaint"),
            _("You can complain to a supervisory authority (Art. 77 GDPR), in particular the one named below."),
        ),
    ]


def disclosure(register: Register, version: str, activity_ids: list[str], lang: str) -> dict[str, Any]:
    """What Art. 15(1) GDPR tells a subject beside their data (R-2), for the activities holding it.

    Per activity: purpose, legal basis, categories, recipients with any third-country transfer
    and its safeguard, retention, source and the statement on automated decisions; then the
    rights, the controller, the DPO and the supervisory authority.  Same texts as the notice.
    """
    tx = _Texts(translations(lang), lang)
    activities = [
        asdict(_activity(tx, register, aid, register.activities[aid], lang))
        for aid in activity_ids
        if aid in register.activities
    ]
    return {
        "register_version": version,
        "language": lang,
        "activities": activities,
        "rights": [{"right": name, "text": text} for name, text in _rights(tx)],
        "controller": asdict(_party(tx._("Controller"), register.controller)),
        "data_protection_officer": asdict(_party(tx._("Data protection officer"), register.dpo)),
        "supervisory_authority": asdict(_party(tx._("Supervisory authority"), register.supervisory_authority)),
    }


def notice_view(
    register: Register,
    version: str,
    lang: str,
    history: list[PublishedVersion] | None = None,
) -> NoticeView:
    tx = _Texts(translations(lang), lang)
    _ = tx._
    parts = []
    for pid, part in register.parts.items():
        acts = [_activity(tx, register, aid, a, lang) for aid, a in register.activities.items() if a.part == pid]
        if acts:
            parts.append(PartView(part.label.get(lang), acts))
    versions: list[VersionView] = []
    seen_current = False
    for item in history or []:
        current = item.version == version
        seen_current = seen_current or current
        versions.append(VersionView(item.version, tx.date(item.published_at.date()), current))
    if not seen_current:
        versions.insert(0, VersionView(version, None, True))
    return NoticeView(
        lang=lang,
        version=version,
        example_values=register.uses_example_values,
        controller=_party(_("Controller"), register.controller),
        dpo=_party(_("Data protection officer"), register.dpo),
        authority=_party(_("Supervisory authority"), register.supervisory_authority),
        parts=parts,
        rights=_rights(tx),
        changes=[
            ChangeView(tx.date(c.date), c.summary.get(lang))
            for c in sorted(register.changes, key=lambda c: c.date, reverse=True)
        ],
        versions=versions,
    )


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("privateline.register", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_ENV = _environment()
_MD_ENV = _environment()
_MD_ENV.autoescape = False


def render_notice(view: NoticeView, fmt: NoticeFormat, version_url: str = "/privacy/versions/") -> str:
    env = _ENV if fmt == "html" else _MD_ENV
    template = env.get_template("notice.html.j2" if fmt == "html" else "notice.md.j2")
    t = translations(view.lang)
    return template.render(
        n=view,
        version_url=version_url,
        gettext=t.gettext,
        ngettext=t.ngettext,
        _=t.gettext,
    )
