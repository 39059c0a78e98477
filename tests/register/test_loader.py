from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from privateline.app.promises import catalogue
from privateline.register.loader import RegisterError, load_register, parse_register
from privateline.register.model import EEA_COUNTRIES


def shipped() -> dict[str, Any]:
    text = resources.files("privateline.register").joinpath("data", "register.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def parse(data: dict[str, Any]) -> None:
    parse_register(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "test.yaml")


def test_the_shipped_register_loads_and_has_a_stable_version() -> None:
    first, second = load_register(), load_register()
    assert first.version == second.version
    assert len(first.version) == 16
    assert "website_access_log" in first.register.activities


def test_a_wrong_legal_basis_names_the_field_path_and_line() -> None:
    data = shipped()
    data["activities"]["website_access_log"]["legal_basis"]["gdpr"] = "g"
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    with pytest.raises(RegisterError) as caught:
        parse_register(text, "broken.yaml")
    message = str(caught.value)
    assert "activities.website_access_log.legal_basis.gdpr" in message
    assert "'g'" in message
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip() == "gdpr: g")
    assert f"broken.yaml:{line}:" in message


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(RegisterError, match=r"bad\.yaml:3: .*not valid YAML"):
        parse_register("controller:\n  name: x\n  - broken\n", "bad.yaml")


def test_an_unknown_category_is_named_where_it_is_used() -> None:
    data = shipped()
    data["activities"]["website_access_log"]["categories"].append("user.made.up")
    with pytest.raises(
        RegisterError, match=r"activities\.website_access_log\.categories\[\d+\]: unknown data category"
    ):
        parse(data)


def test_a_missing_translation_is_refused() -> None:
    data = shipped()
    del data["activities"]["website_access_log"]["purpose"]["nl"]
    with pytest.raises(RegisterError, match=r"activities\.website_access_log\.purpose\.nl: Field required"):
        parse(data)


def test_a_legitimate_interest_must_be_stated() -> None:
    data = shipped()
    data["activities"]["website_access_log"]["legal_basis"].pop("interest", None)
    with pytest.raises(RegisterError, match=r"must state the interest"):
        parse(data)


@pytest.mark.promise("R-14", "CARE-10")
def test_r_14_a_recipient_outside_the_eea_needs_a_safeguard() -> None:
    data = shipped()
    rid, recipient = next(iter(data["recipients"].items()))
    recipient["country"] = "US"
    recipient["safeguard"] = "none_needed"
    with pytest.raises(RegisterError, match=rf"recipients\.{rid}: .*outside the EEA: a transfer needs a safeguard"):
        parse(data)


@pytest.mark.promise("R-14", "CARE-10")
def test_r_14_every_shipped_third_country_recipient_has_a_safeguard() -> None:
    register = load_register().register
    abroad = [r for r in register.recipients.values() if r.country not in EEA_COUNTRIES]
    assert abroad, "the template should show how a transfer is declared"
    assert all(r.safeguard.value in {"adequacy", "scc", "bcr", "consent"} for r in abroad)


def test_a_switched_off_part_disappears_from_the_register() -> None:
    data = shipped()
    data["parts"]["newsletter"]["enabled"] = False
    loaded = parse_register(yaml.safe_dump(data, allow_unicode=True), "ops.yaml")
    assert loaded.disabled_parts == {"newsletter"}
    assert loaded.dormant_activities
    assert all(a.part != "newsletter" for a in loaded.register.activities.values())
    assert loaded.version != load_register().version


def test_every_promise_about_purpose_basis_retention_or_recipient_is_traced_to_an_activity() -> None:
    register = load_register().register
    traced = {pid for a in register.activities.values() for pid in a.promises}
    untraced = [p.id for p in catalogue() if p.register and p.id not in traced]
    assert untraced == []


def test_a_register_file_that_does_not_exist_is_a_clear_error(tmp_path: Any) -> None:
    with pytest.raises(RegisterError, match="cannot be read"):
        load_register(tmp_path / "nope.yaml")


@pytest.mark.promise("WEB-3")
def test_web_3_every_use_for_customer_relations_can_be_refused_and_the_register_cannot_say_otherwise() -> None:
    register = load_register().register
    marketing = {aid for aid, a in register.activities.items() if a.direct_marketing}
    assert {"marketing_customer_relations", "promotions", "newsletter_subscribed"} <= marketing
    for aid in marketing:
        # Art. 21(2)-(3): an objection stops it at once, or it rests on a consent that can be refused.
        assert register.activities[aid].objection.value in {"unconditional", "withdraw_consent"}, aid
    # Market research (surveys) only with consent, which can be refused or withdrawn.
    assert register.activities["customer_surveys"].consent.required
    data = shipped()
    data["activities"]["marketing_customer_relations"]["objection"] = "weighed"
    with pytest.raises(RegisterError, match=r"marketing_customer_relations: .*objected to without reasons"):
        parse(data)


@pytest.mark.promise("WEB-3")
def test_web_3_personal_data_is_never_sold_no_recipient_can_be_a_buyer() -> None:
    # Data leaves only to the register's recipients (the notice, the outbox and the rights
    # engine all read them from there), and a recipient is a processor, a group company, an
    # authority or an independent controller with its own duties: there is no role to sell to.
    data = shipped()
    rid = next(iter(data["recipients"]))
    data["recipients"][rid]["role"] = "buyer"
    with pytest.raises(RegisterError, match=rf"recipients\.{rid}\.role"):
        parse(data)
    roles = {r.role.value for r in load_register().register.recipients.values()}
    assert roles <= {"processor", "group_company", "authority", "independent_controller"}
