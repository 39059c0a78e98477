"""The register of processing activities (GDPR Art. 30) as typed data.

Everything privateline says or does about personal data is derived from, or checked
against, one `Register`: the notice (Art. 13/14), the records of processing (Art. 30),
the declared stores and their retention sweeps.  This module only describes the shape;
`loader` reads it from YAML and `references` checks the cross-references.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from privateline.register.periods import Period

LANGUAGES: tuple[str, ...] = ("en", "de", "nl")

# Art. 45 GDPR applies to countries outside the European Economic Area: the 27 EU
# member states plus Iceland, Liechtenstein and Norway (EEA Agreement, Annex XI).
EEA_COUNTRIES: frozenset[str] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_CATEGORY_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PROMISE_ID = re.compile(r"^(DEV|WEB|CARE|R)-[0-9]+$")


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError("must be lower_snake_case (letters, digits, underscores), starting with a letter")
    return value


def _category_key(value: str) -> str:
    if not _CATEGORY_KEY.match(value):
        raise ValueError("must be a dotted lower-case key such as user.contact.email")
    return value


def _country(value: str) -> str:
    if not _COUNTRY.match(value):
        raise ValueError("must be an ISO 3166-1 alpha-2 country code such as DE or US")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address")
    return value


def _promise_id(value: str) -> str:
    if not _PROMISE_ID.match(value):
        raise ValueError("must be a promise id such as WEB-7 or R-2")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
CategoryKey = Annotated[str, AfterValidator(_category_key)]
CountryCode = Annotated[str, AfterValidator(_country)]
EmailAddress = Annotated[str, AfterValidator(_email)]
PromiseId = Annotated[str, AfterValidator(_promise_id)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Localized(_Model):
    """A text in every language the notice is published in."""

    en: str = Field(min_length=1)
    de: str = Field(min_length=1)
    nl: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        text: str = getattr(self, lang)
        return text


class PostalAddress(_Model):
    street: str = Field(min_length=1)
    postcode: str = Field(min_length=1)
    city: str = Field(min_length=1)
    country: CountryCode

    def lines(self) -> list[str]:
        return [self.street, f"{self.postcode} {self.city}", self.country]


class Party(_Model):
    """A named body the data subject can write to, call or e-mail (R-1, R-10)."""

    name: str = Field(min_length=1)
    address: PostalAddress
    phone: str = Field(min_length=1)
    email: EmailAddress
    website: str | None = None
    # The shipped register carries invented example values; an operator replaces them
    # and removes this flag.  Until then the start-up log and the notice say so.
    example: bool = False


class Part(_Model):
    """A switchable part of the offering (e.g. the newsletter).

    A part that is switched off removes its activities from the loaded register, so
    neither the notice nor the system offers them.
    """

    label: Localized
    enabled: bool = True


class IdentityChannel(StrEnum):
    """How a kind of data subject proves who they are before a rights request."""

    CUSTOMER_ACCOUNT = "customer_account"
    DEVICE_CREDENTIALS = "device_credentials"
    SIGNED_EMAIL_LINK = "signed_email_link"
    CONSENT_RECORD = "consent_record"
    NOT_IDENTIFIABLE = "not_identifiable"


class SubjectKind(_Model):
    label: Localized
    identity: IdentityChannel
    # Category keys (or dotted prefixes of them) that no data of this subject kind may
    # include.  The device cloud knows phones, not people (DEV-5): its owners' data
    # never includes names, contact details or accounts, and no store may hold them.
    never_holds: tuple[str, ...] = ()

    def forbids(self, category: str) -> str | None:
        """The `never_holds` entry that rules `category` out, if any."""
        for prefix in self.never_holds:
            if category == prefix or category.startswith(prefix + "."):
                return prefix
        return None


class Category(_Model):
    label: Localized


class RecipientRole(StrEnum):
    PROCESSOR = "processor"  # Art. 28
    GROUP_COMPANY = "group_company"
    AUTHORITY = "authority"
    INDEPENDENT_CONTROLLER = "independent_controller"


class TransferSafeguard(StrEnum):
    """Chapter V GDPR: on what ground data may leave the EEA."""

    ADEQUACY = "adequacy"  # Art. 45
    SCC = "scc"  # Art. 46(2)(c)
    BCR = "bcr"  # Art. 47
    CONSENT = "consent"  # Art. 49(1)(a)
    NONE_NEEDED = "none_needed"  # recipient inside the EEA


class Recipient(_Model):
    name: str = Field(min_length=1)
    description: Localized
    role: RecipientRole
    country: CountryCode
    safeguard: TransferSafeguard

    @property
    def third_country(self) -> bool:
        return self.country not in EEA_COUNTRIES

    @model_validator(mode="after")
    def _transfer_has_a_ground(self) -> Recipient:
        # Promise R-14 / CARE-10, GDPR Art. 44: no transfer to a third country without
        # an adequacy decision or an appropriate safeguard.
        if self.third_country and self.safeguard is TransferSafeguard.NONE_NEEDED:
            raise ValueError(
                f"country {self.country} is outside the EEA: a transfer needs a safeguard "
                "(adequacy, scc, bcr or consent), not none_needed"
            )
        if not self.third_country and self.safeguard is not TransferSafeguard.NONE_NEEDED:
            raise ValueError(f"country {self.country} is inside the EEA: the safeguard must be none_needed")
        return self


class LawfulBasis(StrEnum):
    """GDPR Art. 6(1), points (a) to (f)."""

    CONSENT = "a"
    CONTRACT = "b"
    LEGAL_OBLIGATION = "c"
    VITAL_INTERESTS = "d"
    PUBLIC_TASK = "e"
    LEGITIMATE_INTERESTS = "f"


class LegalBasis(_Model):
    gdpr: LawfulBasis
    # The Union or national provisions the processing also rests on (Art. 6(3)),
    # e.g. "UWG §7(3)", "HGB §257", "AO §147", "Art. 7(1) GDPR".
    provisions: tuple[str, ...] = ()
    # Art. 13(1)(d): the legitimate interests pursued, stated when the basis is (f).
    interest: Localized | None = None

    @model_validator(mode="after")
    def _complete(self) -> LegalBasis:
        if self.gdpr is LawfulBasis.LEGITIMATE_INTERESTS and self.interest is None:
            raise ValueError("a legitimate-interest basis (f) must state the interest (Art. 13(1)(d))")
        if self.gdpr is LawfulBasis.LEGAL_OBLIGATION and not self.provisions:
            raise ValueError("a legal-obligation basis (c) must name the law in 'provisions' (Art. 6(3))")
        return self

    @property
    def article(self) -> str:
        return f"Art. 6(1)({self.gdpr.value}) GDPR"


class Anchor(StrEnum):
    """The event a retention period is counted from."""

    COLLECTION = "collection"
    LAST_REPORT = "last_report"
    LAST_ACTIVITY = "last_activity"
    CONSENT_GIVEN = "consent_given"
    CONTRACT_END = "contract_end"
    SUBSCRIPTION_END = "subscription_end"
    SERVICE_DEACTIVATED = "service_deactivated"
    REQUEST_CLOSED = "request_closed"
    CASE_CLOSED = "case_closed"
    END_OF_YEAR = "end_of_year"


class LegalHold(_Model):
    """Data kept after its purpose ends because a law requires it (Art. 17(3)(b))."""

    period: Period
    basis: str = Field(min_length=1)  # e.g. "HGB §257, AO §147"


class Retention(_Model):
    # A fixed period counted from an anchor event ...
    period: Period | None = None
    anchor: Anchor = Anchor.COLLECTION
    # ... and/or "while <condition>", e.g. while the subscription is active.
    while_active: Localized | None = None
    legal_hold: LegalHold | None = None

    @model_validator(mode="after")
    def _has_a_rule(self) -> Retention:
        if self.period is None and self.while_active is None:
            raise ValueError("a retention rule needs a period, a while_active condition, or both")
        return self


class Consent(_Model):
    required: bool
    # How long a consent stays valid before the subject is asked again (WEB-8: one year).
    lasts: Period | None = None


class Objection(StrEnum):
    """What an objection under Art. 21 does to this activity."""

    UNCONDITIONAL = "unconditional"  # Art. 21(2)-(3): direct marketing stops at once
    WEIGHED = "weighed"  # Art. 21(1): stops unless compelling grounds prevail
    WITHDRAW_CONSENT = "withdraw_consent"  # basis is consent: withdrawal, Art. 7(3)
    NOT_POSSIBLE = "not_possible"  # contract, legal obligation, or compelling grounds


class SourceKind(StrEnum):
    DATA_SUBJECT = "data_subject"
    DEVICE = "device"
    AUTOMATIC = "automatic"
    THIRD_PARTY = "third_party"


class Source(_Model):
    kind: SourceKind
    detail: Localized


class Activity(_Model):
    """One processing activity: one purpose on one legal basis."""

    part: Identifier
    name: Localized
    purpose: Localized
    legal_basis: LegalBasis
    categories: tuple[CategoryKey, ...] = Field(min_length=1)
    subjects: tuple[Identifier, ...] = Field(min_length=1)
    source: Source
    recipients: tuple[Identifier, ...] = ()
    retention: Retention
    consent: Consent = Consent(required=False)
    # The subject can switch this processing off without ending the contract (DEV-10).
    deactivatable: bool = False
    objection: Objection
    objection_note: Localized | None = None
    direct_marketing: bool = False
    # Art. 13(2)(f): automated decision-making including profiling.
    automated_decision: Localized | None = None
    promises: tuple[PromiseId, ...] = ()

    @model_validator(mode="after")
    def _coherent(self) -> Activity:
        basis = self.legal_basis.gdpr
        if basis is LawfulBasis.CONSENT and not self.consent.required:
            raise ValueError("the legal basis is consent (a), so consent.required must be true")
        if self.consent.required and basis is not LawfulBasis.CONSENT:
            raise ValueError("consent.required is true, so the legal basis must be consent (a)")
        if self.direct_marketing and self.objection not in (
            Objection.UNCONDITIONAL,
            Objection.WITHDRAW_CONSENT,
        ):
            raise ValueError("direct marketing can always be objected to without reasons (Art. 21(2))")
        if (
            self.objection is Objection.NOT_POSSIBLE
            and basis
            in (
                LawfulBasis.LEGITIMATE_INTERESTS,
                LawfulBasis.PUBLIC_TASK,
            )
            and self.objection_note is None
        ):
            raise ValueError("objection not_possible on basis (e) or (f) needs an objection_note giving the grounds")
        if self.objection is Objection.WITHDRAW_CONSENT and basis is not LawfulBasis.CONSENT:
            raise ValueError("objection withdraw_consent only fits the legal basis consent (a)")
        return self


class Change(_Model):
    """One entry of the notice's change log (promise WEB-14)."""

    date: date
    summary: Localized


class Register(_Model):
    controller: Party
    dpo: Party
    supervisory_authority: Party
    parts: dict[Identifier, Part]
    subjects: dict[Identifier, SubjectKind]
    categories: dict[CategoryKey, Category]
    recipients: dict[Identifier, Recipient] = {}
    activities: dict[Identifier, Activity]
    changes: tuple[Change, ...] = ()

    @property
    def uses_example_values(self) -> bool:
        return self.controller.example or self.dpo.example or self.supervisory_authority.example

    def recipients_of(self, activity: Activity) -> list[tuple[str, Recipient]]:
        return [(rid, self.recipients[rid]) for rid in activity.recipients]

    def third_country_transfers(self, activity: Activity) -> list[tuple[str, Recipient]]:
        return [(rid, r) for rid, r in self.recipients_of(activity) if r.third_country]


Language = Literal["en", "de", "nl"]
