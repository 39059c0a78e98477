"""A register in which a phone's owner can object and withdraw consent (R-8, R-9).

The shipped register processes a phone's data only to provide the services or because a
law requires it, so its device owners have nothing to object to and no consent to
withdraw.  An operator's register may differ; these tests add three activities about
device owners to the shipped one:

* `device_tips`: tips and offers for the phone, direct marketing on legitimate
  interests: an objection stops it at once and unconditionally (Art. 21(2)-(3));
* `misuse_detection`: detecting misuse of the free calls, on legitimate interests: an
  objection is weighed by the DPO (Art. 21(1)); neither marketing nor analytics;
* `call_quality_reports`: call-quality reports sent with the owner's consent (Art. 7(3)).

Two activities also get recipients, so a rectification or restriction of their data has
someone to tell (Art. 19, R-5): the information services (a weather service) and the tips
(an advertising agency).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from privateline.register.loader import LoadedRegister, parse_register

TIPS = "device_tips"
MISUSE = "misuse_detection"
QUALITY = "call_quality_reports"
INFO = "information_services"
TIPS_RECIPIENT = "advertising_agency"
INFO_RECIPIENT = "helpdesk_provider"


def _localized(text: str) -> dict[str, str]:
    return {"en": text, "de": f"{text} (de)", "nl": f"{text} (nl)"}


def _activity(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "part": "device_cloud",
        "name": _localized(name),
        "purpose": _localized(f"{name}, for the tests of the rights of device owners."),
        "categories": ["user.telecom.number", "user.device.product_name"],
        "subjects": ["device_owner"],
        "source": {"kind": "device", "detail": _localized("sent by the phone")},
        "retention": {"while_active": _localized("while the phone is in service")},
        **extra,
    }


def register_with_device_choices() -> LoadedRegister:
    text = resources.files("privateline.register").joinpath("data", "register.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    data["activities"][TIPS] = _activity(
        "Tips and offers for your phone",
        legal_basis={"gdpr": "f", "interest": _localized("telling owners about accessories")},
        objection="unconditional",
        direct_marketing=True,
        recipients=[TIPS_RECIPIENT],
    )
    data["activities"][INFO]["recipients"] = [INFO_RECIPIENT]
    data["activities"][MISUSE] = _activity(
        "Detecting misuse of the free calls",
        legal_basis={"gdpr": "f", "interest": _localized("keeping the call service free of abuse")},
        objection="weighed",
    )
    data["activities"][QUALITY] = _activity(
        "Call-quality reports",
        legal_basis={"gdpr": "a"},
        consent={"required": True, "lasts": "1 year"},
        objection="withdraw_consent",
    )
    return parse_register(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "(test) device choices")
