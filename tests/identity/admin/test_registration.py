"""Registration → e-mail confirmation → operator verification or rejection, with
mail received by a real SMTP server and its links followed."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import func, select

from identity.models import Organization, TaxId, User
from identity.registration import valid_npi
from tests.identity.admin_flows import EVIDENCE, admin_token, bearer, operator_decides, org_id_of
from tests.identity.flows import portal_sign_in, portal_tokens
from tests.identity.harness import IdentityHarness
from tests.support.digits import arabic_indic, full_width
from tests.support.oidc import followed, form_fields, jwt_claims, query_of
from tests.support.smtp import Inbox

NPI = "1234567893"  # the CMS example NPI, valid check digit
PASSWORD = "Clinic.Passw0rd-77"


def application(n: int, **changes: str) -> dict[str, str]:
    return {
        "org_name": f"Lakeside Clinic {n}",
        "street": "1 Lake Way",
        "city": "Tacoma",
        "state": "WA",
        "postal_code": "98402",
        "phone": "(253) 555-0100",
        "tin": f"77-00000{n:02d}",
        "tin_legal_name": f"Lakeside Clinic {n} PLLC",
        "attest": "yes",
        "npis": NPI,
        "given_name": "Lee",
        "family_name": "Lakeside",
        "email": f"lee{n}@lakeside.example",
        "username": f"lee.lake{n}",
        "password": PASSWORD,
        **changes,
    }


async def submit(browser: httpx.AsyncClient, form: dict[str, str]) -> httpx.Response:
    page = await browser.get("/register")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = await browser.post("/register", data={**form, "csrf_token": token.group(1)})
    return await followed(browser, answer, "/register/sent") if answer.is_redirect else answer


async def count(identity: IdentityHarness, model: Any) -> int:
    async with identity.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def test_npi_check_digit() -> None:
    assert valid_npi("1234567893")
    assert not valid_npi("1234567890")
    assert not valid_npi("123456789")
    assert not valid_npi(full_width("1234567893")), "full-width digits are not an NPI"
    assert not valid_npi(arabic_indic("1234567893")), "nor Arabic-Indic ones"
    assert not valid_npi("1234567893\n")


async def test_the_form_is_labelled_and_every_fault_is_named(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    before = await count(identity, Organization)
    async with identity.client() as browser:
        form = await browser.get("/register")
        assert '<label for="tin">' in form.text and '<label for="npis">' in form.text
        bad = application(1, tin="12-34", npis="1234567890", state="Washington", password="x")
        bad = {k: v for k, v in bad.items() if k not in {"attest", "tin_legal_name"}}
        response = await submit(browser, bad)
    assert response.status_code == 400
    assert 'id="attest-errors"' in response.text and 'id="tin_legal_name-errors"' in response.text
    for message in (
        "Attest that your organization owns this Tax ID",
        "legal name registered with the IRS",
        "Enter the Tax ID as nine digits",
        "1234567890 is not a valid NPI",
        "two-letter state code",
    ):
        assert message in response.text
    assert 'id="password-errors"' in response.text, "the password policy speaks at its field"
    assert await count(identity, Organization) == before, "nothing is half-written"


async def test_register_confirm_verify_then_tokens(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    async with identity.client() as browser:
        response = await submit(browser, application(2))
    assert response.status_code == 200 and "Check your e-mail" in response.text
    org_id = await org_id_of(identity, "Lakeside Clinic 2")
    async with identity.session() as session:
        org = await session.get(Organization, org_id)
        assert org is not None and org.status == "pending_verification"
        assert org.npis == [NPI] and org.state == "WA"

    unconfirmed = await portal_sign_in(identity, "lee.lake2", PASSWORD)
    assert unconfirmed.status_code != 302, "no sign-in before the e-mail address is confirmed"
    operator = bearer(await admin_token(identity, "ops.olivia"))
    async with identity.client(headers=operator) as api:
        early = await api.post(f"/api/v1/operator/registrations/{org_id}/verify")
    assert early.status_code == 409 and early.json()["type"].endswith("email-not-confirmed")

    link = inbox.link(inbox.to("lee2@lakeside.example")[-1])
    async with identity.client() as browser:
        opened = await browser.get(link.removeprefix(identity.settings.issuer))
        fields = form_fields(opened.text)
        assert fields.pop("__action__") == "/register/confirm", "opening the link only asks"
        still_pending = await portal_sign_in(identity, "lee.lake2", PASSWORD)
        assert still_pending.status_code != 302, "a GET of the link confirms nothing"
        confirmed = await browser.post("/register/confirm", data=fields)
        again = await browser.get(link.removeprefix(identity.settings.issuer))
    assert confirmed.status_code == 200 and again.status_code == 400, "the link works once"
    pending = await portal_sign_in(identity, "lee.lake2", PASSWORD)
    assert pending.status_code == 403 and "location" not in pending.headers, (
        "nothing of a pending organization reaches a relying party"
    )
    assert "Lakeside Clinic 2" in pending.text and "TINpass staff are checking" in pending.text

    async with identity.client(headers=operator) as api:
        pending = (await api.get("/api/v1/operator/registrations")).json()["registrations"]
        mine = next(r for r in pending if r["id"] == org_id)
        assert mine["administrators"][0]["email_confirmed"] is True
        [tin] = mine["tax_ids"]
        assert tin["tin"] == "77-0000002" and tin["status"] == "pending_verification"
        assert tin["legal_name"] == "Lakeside Clinic 2 PLLC"
        assert "Lakeside Clinic 2 PLLC" in tin["attestation"]
        assert tin["attested_by"]["username"] == "lee.lake2" and tin["held_by"] == []
        verified = await api.post(f"/api/v1/operator/registrations/{org_id}/verify")
    assert verified.status_code == 200 and verified.json()["status"] == "active"
    assert "is verified" in inbox.to("lee2@lakeside.example")[-1]["Subject"]
    assert "Each Tax ID is verified on its own" in inbox.body(inbox.to("lee2@lakeside.example")[-1])
    unverified_tin = jwt_claims(
        (await portal_tokens(identity, "lee.lake2", PASSWORD))["access_token"]
    )
    assert unverified_tin["org_id"] == org_id and not unverified_tin.get("tax_ids"), (
        "verifying the organization does not verify its TIN"
    )
    decided = await operator_decides(identity, org_id, "770000002")
    assert decided["status"] == "active" and decided["decided_by"]
    told = inbox.to("lee2@lakeside.example")[-1]
    assert told["Subject"] == "A Tax ID was verified on TINpass"
    assert "77-0000002" in inbox.body(told)
    tokens = await portal_tokens(identity, "lee.lake2", PASSWORD)
    claims = jwt_claims(tokens["access_token"])
    assert claims["org_id"] == org_id and claims["tax_ids"] == ["770000002"]


async def test_rejection_needs_a_reason_and_reaches_the_applicant(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    async with identity.client() as browser:
        await submit(browser, application(3))
    org_id = await org_id_of(identity, "Lakeside Clinic 3")
    operator = bearer(await admin_token(identity, "ops.olivia"))
    async with identity.client(headers=operator) as api:
        silent = await api.post(f"/api/v1/operator/registrations/{org_id}/reject", json={})
        rejected = await api.post(
            f"/api/v1/operator/registrations/{org_id}/reject",
            json={"reason": "The NPI belongs to another practice."},
        )
        twice = await api.post(f"/api/v1/operator/registrations/{org_id}/verify")
        waiting = (await api.get("/api/v1/operator/tax-id-requests")).json()["requests"]
    assert not [r for r in waiting if r["organization"]["id"] == org_id], (
        "a rejected registration's TIN is rejected with it"
    )
    async with identity.session() as session:
        tin = await session.scalar(select(TaxId).where(TaxId.organization_id == org_id))
    assert tin is not None and tin.status == "rejected"
    assert tin.decision_reason == "The NPI belongs to another practice."
    assert silent.status_code == 422
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert twice.status_code == 404, "a decided registration is no longer pending"
    notice = inbox.to("lee3@lakeside.example")[-1]
    assert "not accepted" in notice["Subject"]
    assert "The NPI belongs to another practice." in inbox.body(notice)


async def test_an_existing_address_gets_a_notice_not_a_second_account(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    users = await count(identity, User)
    async with identity.client() as browser:
        response = await submit(browser, application(4, email="sam.biller@evergreen.example"))
    assert response.status_code == 200 and "Check your e-mail" in response.text
    assert await count(identity, User) == users
    notice = inbox.to("sam.biller@evergreen.example")[-1]
    assert "tried to register" in notice["Subject"]


async def test_only_operators_reach_the_operator_api(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, _ = mailing
    admin = bearer(await admin_token(identity, "ever.admin"))
    async with identity.client(headers=admin) as api:
        listing = await api.get("/api/v1/operator/registrations")
        requests = await api.get("/api/v1/operator/tax-id-requests")
    assert listing.status_code == 404 and requests.status_code == 404


async def test_a_tin_held_elsewhere_waits_for_an_operator(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    identity, inbox = mailing
    evergreen = await org_id_of(identity, "Evergreen Family Clinic")
    admin = bearer(await admin_token(identity, "ever.admin"))
    async with identity.client(headers=admin) as api:
        asked = await api.post(
            f"/api/v1/organizations/{evergreen}/tax-ids", json={"tin": "555000111", **EVIDENCE}
        )
        assert asked.status_code == 202 and asked.json()["status"] == "pending_verification"
        me = (await api.get(f"/api/v1/organizations/{evergreen}")).json()
        assert "55-5000111" in me["tax_ids_pending_verification"]
        assert "55-5000111" not in me["tax_ids"]
    operator = bearer(await admin_token(identity, "ops.olivia"))
    async with identity.client(headers=operator) as api:
        waiting = (await api.get("/api/v1/operator/tax-id-requests")).json()["requests"]
        request = next(r for r in waiting if r["tin"] == "55-5000111")
        assert request["held_by"] == ["Harbor Billing Services"]
        assert request["legal_name"] == EVIDENCE["legal_name"]
        assert request["attested_by"]["username"] == "ever.admin"
        approved = await api.post(f"/api/v1/operator/tax-id-requests/{request['id']}/approve")
    assert approved.status_code == 200
    async with identity.session() as session:
        rows = (await session.scalars(select(TaxId).where(TaxId.tin == "555000111"))).all()
    assert sorted(r.status for r in rows) == ["active", "active"]
    tokens = await portal_tokens(identity, "ever.admin")
    assert "555000111" in jwt_claims(tokens["access_token"])["tax_ids"], (
        "the administrator who asked may act for the approved TIN"
    )
    assert inbox.to("eve.admin@evergreen.example")[-1]["Subject"] == (
        "A Tax ID was verified on TINpass"
    )


async def test_usernames_ignore_case_and_plus_addresses_are_distinct(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    """Usernames are unique without regard to case and sign in in any case; one
    e-mail address is one account, but a plus-address is a different address."""
    identity, inbox = mailing
    async with identity.client() as browser:
        taken = await submit(browser, application(5, username="SAM.BILLER"))
        plus = await submit(browser, application(6, email="sam.biller+lakeside@evergreen.example"))
    assert taken.status_code == 400 and "is taken" in taken.text
    assert plus.status_code == 200
    async with identity.session() as session:
        created = await session.scalar(
            select(User).where(User.email == "sam.biller+lakeside@evergreen.example")
        )
    assert created is not None and created.username == "lee.lake6"
    assert inbox.to("sam.biller+lakeside@evergreen.example"), "the plus-address got its own link"
    signed = await portal_sign_in(identity, "Sam.Biller")
    assert signed.status_code == 302 and "code" in query_of(signed.headers["location"])


async def test_registration_redirects_and_a_reload_sends_nothing_again(
    mailing: tuple[IdentityHarness, Inbox],
) -> None:
    """Post/redirect/get: the POST answers 303 to /register/sent; reloading that page
    shows it again (with the address) and registers nothing more; without the signed
    cookie (another browser, or tampered) it says something general."""
    identity, inbox = mailing
    async with identity.client() as browser:
        page = await submit(browser, application(7))
        organizations, users, sent = (
            await count(identity, Organization),
            await count(identity, User),
            len(inbox.to(application(7)["email"])),
        )
        reloaded = await browser.get("/register/sent")
        done = next(c for c in browser.cookies.jar if c.name == "tinpass_done")
        browser.cookies.clear()
        browser.cookies.set(done.name, "x" + str(done.value), domain=done.domain, path=done.path)
        tampered = await browser.get("/register/sent")
    assert page.status_code == 200 and application(7)["email"] in page.text
    assert reloaded.text == page.text
    assert (await count(identity, Organization), await count(identity, User)) == (
        organizations,
        users,
    )
    assert len(inbox.to(application(7)["email"])) == sent
    assert tampered.status_code == 200 and "the address you gave" in tampered.text
    assert application(7)["email"] not in tampered.text
