"""Disclosure rules per jurisdiction, from the rule files shipped in the package."""

from __future__ import annotations

from datetime import UTC, datetime

from shieldwall.ads.disclosure import ElectionDate, evaluate, rule_sets, valid_br_tax_id
from shieldwall.ads.document import make_document


def doc(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "platform": "meta",
        "platform_ad_id": "1",
        "funding_entity": "Sponsor A",
        "payer_name": "Payer A",
        "delivery_start": "2027-02-01T00:00:00Z",
        "delivery_stop": "2027-03-01T00:00:00Z",
        "spend": [100, 199],
        "currency": "EUR",
    }
    base.update(values)
    return make_document(**base)


def checks(issues: list[dict[str, str]]) -> set[str]:
    return {i["check"] for i in issues}


def test_every_jurisdiction_has_a_rule_file() -> None:
    assert {r.jurisdiction for r in rule_sets()} >= {"US", "EU", "BR", "FR", "DE", "ALL"}


def test_us_needs_paid_for_by() -> None:
    status, issues = evaluate(doc(country="US", funding_entity=None))
    assert status == "non_compliant"
    assert checks(issues) == {"us_paid_for_by"}
    assert evaluate(doc(country="US"))[0] == "compliant"


def test_eu_transparency_notice_items() -> None:
    status, issues = evaluate(doc(country="IE", delivery_stop=None, spend=None))
    assert status == "non_compliant"
    assert checks(issues) == {
        "eu_controlling_entity",
        "eu_period",
        "eu_amounts",
        "eu_linked_election",
        "eu_origin_of_funds",
    }
    full = doc(country="IE", controlling_entity="Holding", election_key="ie-x", origin_of_funds="private, EU")
    assert evaluate(full) == ("compliant", [])


def test_brazil_needs_a_valid_cnpj_or_cpf() -> None:
    assert valid_br_tax_id("11.222.333/0001-81")
    assert valid_br_tax_id("529.982.247-25")
    assert not valid_br_tax_id("11.222.333/0001-82")
    _, issues = evaluate(doc(country="BR", payer_ids={"cnpj": "11.222.333/0001-82"}))
    assert "br_payer_tax_id" in checks(issues)
    assert evaluate(doc(country="BR", payer_ids={"cpf": "529.982.247-25"}))[0] == "compliant"


def test_france_only_in_the_three_months_before_a_general_election_and_above_100_euros() -> None:
    election = ElectionDate("fr-2027", "FR", "presidential", datetime(2027, 4, 11, tzinfo=UTC))
    no_payer = {"country": "FR", "payer_name": None, "controlling_entity": "x", "election_key": "fr-2027"}
    no_payer |= {"origin_of_funds": "private"}
    _, issues = evaluate(doc(**no_payer), [election])
    assert "fr_payer_identity" in checks(issues)
    _, issues = evaluate(
        doc(**no_payer, delivery_start="2026-06-01T00:00:00Z", delivery_stop="2026-07-01T00:00:00Z"), [election]
    )
    assert "fr_payer_identity" not in checks(issues)  # a year before: outside the window
    _, issues = evaluate(doc(**no_payer, spend=[0, 99]), [election])
    assert "fr_payer_identity" not in checks(issues)  # at most EUR 99


def test_germany_needs_the_advertiser_named() -> None:
    _, issues = evaluate(doc(country="DE", funding_entity=None, payer_name=None))
    assert "de_advertiser" in checks(issues)
    _, issues = evaluate(doc(country="DE", funding_entity=None))
    assert "de_advertiser" not in checks(issues)


def test_inconsistent_ranges_and_periods_everywhere() -> None:
    status, issues = evaluate(doc(country="NZ", spend=[500, 100], delivery_stop="2027-01-01T00:00:00Z"))
    assert status == "non_compliant"
    assert checks(issues) == {"spend_range_ordered", "period_ordered"}
    assert evaluate(doc(country="NZ"))[0] == "unknown"  # no jurisdiction's rules cover NZ
