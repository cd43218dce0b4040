"""The operators' console lists and audit viewer: only operators reach them (403 for
anyone else signed in); organizations and people searched by name, username, e-mail
and TIN, a page at a time; the audit trail filtered by organization, person and event,
newest first; every page a GET that changes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from identity import admin_ops, audit
from identity import tin_verification as tins
from identity.admin import operator_audit
from identity.models import AuditEvent, Organization
from identity.web import return_to
from tests.identity.admin_flows import org_id_of, user_id_of
from tests.identity.harness import IdentityHarness
from tests.identity.web.test_console import signed_in

PAGES = (
    "/console/operator",
    "/console/operator/organizations",
    "/console/operator/people",
    "/console/operator/audit",
)
ROW_HEADER = re.compile(r'<th scope="row">([^<]+)')
TIME = re.compile(
    r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00">\w{3} \d+, \d{4}, \d\d:\d\d UTC</time>'
)


@pytest.fixture(scope="module", autouse=True)
async def many(identity: IdentityHarness) -> None:
    """25 more organizations (two pages of them) with a TIN each, a registration and a
    TIN waiting for verification, and 60 events about Harbor Billing Services."""
    harbor = await org_id_of(identity, "Harbor Billing Services")
    hana = await user_id_of(identity, "hana.harb")
    async with identity.session() as session:
        for n in range(1, 26):
            org = await admin_ops.create_organization(session, f"Paging Clinic {n:02d}")
            await admin_ops.add_tax_id(session, org.id, f"31-00000{n:02d}", legal_name=org.name)
        pending = await admin_ops.create_organization(session, "Pending Dental")
        pending.status = "pending_verification"
        await tins.request(
            session, pending, "445556667", "", tins.Evidence("Pending Dental LLC", True), hana
        )
        harbor_org = await session.get(Organization, harbor)
        assert harbor_org is not None
        await tins.request(
            session, harbor_org, "661234567", "", tins.Evidence("Harbor Billing LLC", True), hana
        )
        for n in range(60):
            await audit.record(
                session,
                "profile.updated",
                actor_type="user",
                actor_id=hana,
                organization_id=harbor,
                target_type="user",
                target_id=hana,
                details={"after": {"given_name": f"Hana {n}"}},
            )
        await session.commit()


async def events_written(identity: IdentityHarness) -> int:
    async with identity.session() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def rows(html: str) -> list[str]:
    return [name.strip() for name in ROW_HEADER.findall(html)]


@pytest.mark.parametrize("username", ["hana.harb", "ever.admin"])
async def test_only_operators_see_the_operator_pages(
    identity: IdentityHarness, username: str
) -> None:
    async with signed_in(identity, username) as browser:
        answers = [await browser.get(path) for path in PAGES]
        decide = await browser.post("/console/operator/tax-ids/x/approve", data={})
    for answer in [*answers, decide]:
        assert answer.status_code == 403, answer.url
        assert "Only TINpass operators can see this page." in answer.text
        assert "Harbor Billing Services" not in answer.text
    async with identity.client() as anonymous:
        for path in PAGES:
            answer = await anonymous.get(path)
            assert answer.status_code == 303  # to sign in, then back to this page
            assert answer.headers["location"] == return_to.login_url(path)


async def test_organizations_are_searched_by_name_or_tin_and_paged(
    identity: IdentityHarness,
) -> None:
    lists = "/console/operator/organizations"
    async with signed_in(identity, "ops.olivia") as operator:
        by_name = await operator.get(lists, params={"q": "EVERGREEN"})
        by_tin = await operator.get(lists, params={"q": "55-5000111"})
        by_part = await operator.get(lists, params={"q": "31 00000 1"})
        wildcard = await operator.get(lists, params={"q": "%"})
        first = await operator.get(lists, params={"q": "paging clinic"})
        second = await operator.get(lists, params={"q": "paging clinic", "page": "2"})
        beyond = await operator.get(lists, params={"q": "paging clinic", "page": "99"})
        nonsense = await operator.get(lists, params={"q": "paging clinic", "page": "two"})
    assert rows(by_name.text) == ["Evergreen Family Clinic"]
    assert "12-3456789 (verified)" in by_name.text and "98-7654321 (verified)" in by_name.text
    assert rows(by_tin.text) == ["Harbor Billing Services"]
    assert rows(by_part.text) == [f"Paging Clinic {n:02d}" for n in range(10, 20)]
    assert rows(wildcard.text) == [] and "No organization matches." in wildcard.text
    assert rows(first.text) == [f"Paging Clinic {n:02d}" for n in range(1, 21)]
    assert "Page 1 of 2 (25 organizations)" in first.text
    assert 'href="/console/operator/organizations?q=paging+clinic&amp;page=2"' in first.text
    assert rows(second.text) == [f"Paging Clinic {n:02d}" for n in range(21, 26)]
    assert "Page 2 of 2 (25 organizations)" in second.text and 'rel="prev"' in second.text
    assert rows(beyond.text) == rows(second.text)
    assert rows(nonsense.text) == rows(first.text)
    assert TIME.search(first.text), "the registration date, readable, with its offset"


async def test_people_are_searched_by_name_username_email_or_tin(
    identity: IdentityHarness,
) -> None:
    async def found(q: str) -> list[str]:
        answer = await operator.get("/console/operator/people", params={"q": q})
        assert answer.status_code == 200
        return rows(answer.text)

    async with signed_in(identity, "ops.olivia") as operator:
        assert await found("haruki") == ["Hana Haruki"]
        assert await found("Hana Haruki") == ["Hana Haruki"]
        assert await found("SAM.BILLER") == ["Sam Biller"]
        assert await found("@harborbilling.example") == ["Hana Haruki"]
        assert await found("98-7654321") == ["Eve Alvarez"], "only the people granted it"
        assert await found("123456789") == ["Eve Alvarez", "Sam Biller"]
        assert await found("_") == [], "a wildcard is a plain character"
        everyone = await operator.get("/console/operator/people")
    assert rows(everyone.text) == ["Eve Alvarez", "Hana Haruki", "Olivia Okafor", "Sam Biller"]
    assert "TINpass operator" in everyone.text
    assert "Harbor Billing Services, subscriber (Tax IDs 55-5000111)" in everyone.text


async def test_the_audit_trail_is_filtered_by_organization_person_and_event(
    identity: IdentityHarness,
) -> None:
    harbor = await org_id_of(identity, "Harbor Billing Services")
    trail = "/console/operator/audit"
    async with signed_in(identity, "sam.biller"):
        pass  # a login.succeeded of Sam's
    async with signed_in(identity, "ops.olivia") as operator:
        before = await events_written(identity)
        by_org = await operator.get(trail, params={"organization": harbor})
        page_2 = await operator.get(trail, params={"organization": "harbor", "page": "2"})
        by_person = await operator.get(trail, params={"person": "sam.biller"})
        by_event = await operator.get(trail, params={"event": "login.succeeded"})
        both = await operator.get(trail, params={"person": "hana", "event": "profile.updated"})
        neither = await operator.get(trail, params={"person": "sam", "event": "profile.updated"})
        nobody = await operator.get(trail, params={"person": "no such person"})
        after = await events_written(identity)
    assert by_org.status_code == 200 and "Matches Harbor Billing Services." in by_org.text
    assert "Page 1 of 2 (6" in by_org.text, "60 events and the seed's about Harbor"
    assert rows(by_org.text)[:3] == ["profile.updated"] * 3
    assert (
        "<dt>after, given name</dt><dd>Hana 59</dd>" in by_org.text
        and "Hana Haruki (hana.harb)" in by_org.text
    )
    assert "Page 2 of 2" in page_2.text
    assert set(rows(by_person.text)) >= {"login.succeeded", "user.created"}
    assert "profile.updated" not in rows(by_person.text)
    assert set(rows(by_event.text)) == {"login.succeeded"}
    assert "Sam Biller (sam.biller)" in by_event.text
    assert "Page 1 of 2 (60 events)" in both.text
    assert rows(neither.text) == [] and "No event matches." in neither.text
    assert "Matches nobody." in nobody.text and rows(nobody.text) == []
    assert '<option value="login.succeeded" selected>' in by_event.text
    assert after == before, "reading the trail writes nothing"


async def test_the_queue_shows_when_each_request_came_and_its_evidence(
    identity: IdentityHarness,
) -> None:
    async with signed_in(identity, "ops.olivia") as operator:
        queue = await operator.get("/console/operator")
    text = re.sub(r"\s+", " ", queue.text)
    when = TIME.pattern
    registration = text[text.index('<h3 id="r-') : text.index("Tax IDs waiting for verification")]
    assert "Pending Dental" in registration
    assert re.search(r"<dt>Submitted</dt><dd>" + when, registration)
    assert "44-5556667: waiting for verification" in registration
    assert "Pending Dental LLC" in registration
    tin = text[text.index("66-1234567") :]
    assert re.search(r"<dt>Asked for</dt><dd>" + when, tin)
    assert re.search(r"by Hana Haruki \(hana.harb, hana@harborbilling.example\) on " + when, tin)
    assert "Harbor Billing LLC" in tin and "I attest that Harbor Billing LLC" in tin


async def test_a_long_trail_is_counted_only_so_far_and_every_event_name_is_offered(
    identity: IdentityHarness,
) -> None:
    harbor = await org_id_of(identity, "Harbor Billing Services")
    wanted = operator_audit.AuditFilter(organization=harbor, event="profile.updated")
    async with identity.session() as session:
        capped = await operator_audit.events(session, wanted, page=1, count_up_to=30)
        last = await operator_audit.events(session, wanted, page=9, count_up_to=30)
        whole = await operator_audit.events(session, wanted)
        names = await operator_audit.event_names(session)
        distinct = set(await session.scalars(select(AuditEvent.event).distinct()))
    assert (capped.more, capped.total, capped.pages, len(capped.items)) == (True, 30, 1, 50)
    assert last.page == 1, "no page past the counted ones"
    assert (whole.more, whole.total, whole.pages) == (False, 60, 2)
    assert len(names) == len(set(names)) and set(names) == distinct, "each name once"
