"""The rules engine on worked examples a reader can check by hand.

Cascade Choice PPO, in network: deductible $1,500 individual / $3,000 family,
out-of-pocket maximum $6,000 / $12,000; office visit (98) $25 copay with no
deductible; lab (5) and hospital (47) 20% coinsurance after the deductible.
"""

from __future__ import annotations

from decimal import Decimal

from provider_data.domain.adjudication import Accumulators, Bucket, Line, Terms, adjudicate

D = Decimal
OFFICE = Terms(copay=D("25"), deductible_applies=False)
LAB = Terms(coinsurance_percent=20)
HOSPITAL = Terms(coinsurance_percent=20, prior_auth_required=True)
PT = Terms(copay=D("40"), deductible_applies=False, visit_limit=20)


def ppo(
    deductible_met: str = "0", oop_met: str = "0", family_deductible_met: str = "0"
) -> Accumulators:
    return Accumulators(
        Bucket(D("1500"), D(deductible_met)),
        Bucket(D("3000"), D(family_deductible_met)),
        Bucket(D("6000"), D(oop_met)),
        Bucket(D("12000"), D(oop_met)),
    )


def line(
    code: str,
    charge: str,
    fee: str | None,
    stc: str | None,
    terms: Terms | None,
    units: int = 1,
    modifiers: tuple[str, ...] = (),
) -> Line:
    return Line(code, D(charge), units, modifiers, D(fee) if fee else None, stc, terms)


def test_office_visit_and_lab_with_nothing_met() -> None:
    # 99213 billed 150.00, fee 92.00: allowed 92.00, CO-45 58.00; $25 copay (PR-3),
    #   no deductible on office visits; paid 92.00 - 25.00 = 67.00.
    # 80053 billed 60.00, fee 14.00: allowed 14.00, CO-45 46.00; all 14.00 to the
    #   deductible (PR-1); paid 0.00.
    acc = ppo()
    result = adjudicate(
        [line("99213", "150.00", "92.00", "98", OFFICE), line("80053", "60.00", "14.00", "5", LAB)],
        False,
        acc,
    )
    visit, lab = result.lines
    assert (visit.allowed, visit.copay, visit.deductible, visit.paid) == (
        D("92.00"),
        D("25"),
        0,
        D("67.00"),
    )
    assert visit.adjustments == [("CO", "45", D("58.00")), ("PR", "3", D("25"))]
    assert (lab.allowed, lab.deductible, lab.coinsurance, lab.paid) == (
        D("14.00"),
        D("14.00"),
        0,
        0,
    )
    assert lab.adjustments == [("CO", "45", D("46.00")), ("PR", "1", D("14.00"))]
    assert result.status == "paid"
    assert (result.total("paid"), result.total("patient_responsibility")) == (
        D("67.00"),
        D("39.00"),
    )
    # Accumulators: deductible met 14.00; out of pocket 25.00 + 14.00 = 39.00.
    assert (acc.deductible_individual.met, acc.oop_individual.met) == (D("14.00"), D("39.00"))
    assert (acc.deductible_family.met, acc.oop_family.met) == (D("14.00"), D("39.00"))


def test_deductible_then_coinsurance() -> None:
    # Deductible met 1,164.00, so 336.00 remains. Knee arthroscopy billed 4,000.00,
    # fee 1,150.00 -> allowed 1,150.00 (CO-45 2,850.00); deductible 336.00;
    # coinsurance 20% x (1,150.00 - 336.00 = 814.00) = 162.80; paid 1,150.00 - 336.00
    # - 162.80 = 651.20.
    acc = ppo(deductible_met="1164.00", oop_met="1164.00", family_deductible_met="1164.00")
    result = adjudicate([line("29881", "4000.00", "1150.00", "47", HOSPITAL)], True, acc)
    (knee,) = result.lines
    assert (knee.allowed, knee.deductible, knee.coinsurance, knee.paid) == (
        D("1150.00"),
        D("336.00"),
        D("162.80"),
        D("651.20"),
    )
    assert knee.adjustments == [
        ("CO", "45", D("2850.00")),
        ("PR", "1", D("336.00")),
        ("PR", "2", D("162.80")),
    ]
    assert acc.deductible_individual.met == D("1500.00")
    assert acc.oop_individual.met == D("1164.00") + D("336.00") + D("162.80")


def test_family_deductible_limits_the_individual_one() -> None:
    # Individual deductible: 1,000.00 remains; family: only 200.00 remains (3,000 - 2,800).
    # Lab allowed 14.00 x 20 units = 280.00: deductible 200.00, coinsurance 20% x 80.00 = 16.00.
    acc = ppo(deductible_met="500", family_deductible_met="2800")
    result = adjudicate([line("80053", "400.00", "14.00", "5", LAB, units=20)], False, acc)
    (lab,) = result.lines
    assert (lab.allowed, lab.deductible, lab.coinsurance, lab.paid) == (
        D("280.00"),
        D("200.00"),
        D("16.00"),
        D("64.00"),
    )


def test_out_of_pocket_maximum_caps_the_patient_share() -> None:
    # Deductible fully met; out of pocket 5,950.00 of 6,000.00, so 50.00 remains.
    # Allowed 1,150.00: coinsurance would be 230.00, capped to 50.00; paid 1,100.00.
    acc = ppo(deductible_met="1500", oop_met="5950", family_deductible_met="1500")
    result = adjudicate([line("29881", "4000.00", "1150.00", "47", HOSPITAL)], True, acc)
    (knee,) = result.lines
    assert (knee.deductible, knee.coinsurance, knee.paid) == (0, D("50.00"), D("1100.00"))
    assert acc.oop_individual.remaining == 0


def test_coinsurance_rounds_half_up_to_the_cent() -> None:
    # Allowed 10.05 at 15% = 1.5075 -> 1.51; paid 10.05 - 1.51 = 8.54.
    terms = Terms(coinsurance_percent=15, deductible_applies=False)
    result = adjudicate([line("85025", "20.00", "10.05", "5", terms)], False, ppo())
    assert (result.lines[0].coinsurance, result.lines[0].paid) == (D("1.51"), D("8.54"))


def test_missing_authorization_denies_that_line_only() -> None:
    acc = ppo()
    result = adjudicate(
        [
            line("99213", "150.00", "92.00", "98", OFFICE),
            line("29881", "4000.00", "1150.00", "47", HOSPITAL),
        ],
        False,
        acc,
    )
    visit, knee = result.lines
    assert result.status == "partially_paid"
    assert (knee.status, knee.adjustments, knee.remarks) == (
        "denied",
        [("CO", "197", D("4000.00"))],
        ["M62"],
    )
    assert visit.paid == D("67.00") and acc.oop_individual.met == D("25")


def test_denials_not_on_fee_schedule_not_covered_and_past_the_visit_limit() -> None:
    acc = ppo()
    acc.visits["PT"] = 20
    result = adjudicate(
        [
            line("99499", "80.00", None, None, None),
            line("90834", "120.00", "98.00", "MH", Terms(covered=False)),
            line("97110", "50.00", "32.00", "PT", PT),
        ],
        False,
        acc,
    )
    assert result.status == "denied"
    assert [(r.adjustments[0][1], r.remarks) for r in result.lines] == [
        ("96", ["M51"]),
        ("96", ["N130"]),
        ("119", ["N362"]),
    ]
    assert acc.oop_individual.met == 0


def test_visits_are_counted_up_to_the_limit() -> None:
    acc = ppo()
    acc.visits["PT"] = 19
    first = adjudicate([line("97110", "50.00", "32.00", "PT", PT)], False, acc)
    second = adjudicate([line("97110", "50.00", "32.00", "PT", PT)], False, acc)
    assert (first.status, second.status, acc.visits["PT"]) == ("paid", "denied", 20)


def test_modifier_22_pends_the_claim_and_applies_nothing() -> None:
    acc = ppo()
    result = adjudicate(
        [line("99214", "220.00", "135.00", "98", OFFICE, modifiers=("22",))], False, acc
    )
    assert result.status == "pended"
    assert result.lines[0].adjustments == [("OA", "133", D("220.00"))]
    assert acc.oop_individual.met == 0 and acc.deductible_individual.met == 0


def test_same_input_same_result() -> None:
    claim = [
        line("99213", "150.00", "92.00", "98", OFFICE),
        line("80053", "60.00", "14.00", "5", LAB),
    ]
    assert adjudicate(claim, False, ppo()) == adjudicate(claim, False, ppo())
