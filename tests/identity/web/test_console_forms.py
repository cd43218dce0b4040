"""The console's forms as an office manager meets them: a done form redirects, so a
reload sends nothing again; a form token works once; a mistake comes back beside its
field in plain words, the values kept; a destructive action asks first."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from identity.models import Client, Membership, TaxId
from identity.web import form_tokens
from tests.identity.admin_flows import org_id_of, user_id_of
from tests.identity.harness import IdentityHarness
from tests.identity.web.test_console import EVERGREEN, csrf_of, signed_in


async def clients_named(identity: IdentityHarness, name: str) -> int:
    async with identity.session() as session:
        count = await session.scalar(select(func.count()).where(Client.name == name))
    return int(count or 0)


def secret_in(page: httpx.Response) -> str | None:
    found = re.search(r'id="client-secret">([^<]+)<', page.text)
    return found.group(1) if found else None


async def test_a_new_client_redirects_and_a_reload_or_replay_makes_none(
    identity: IdentityHarness,
) -> None:
    org = await org_id_of(identity, EVERGREEN)
    clients = f"/console/orgs/{org}/clients"
    async with signed_in(identity, "ever.admin") as browser:
        form = {"csrf_token": await csrf_of(browser, clients), "name": "Reload batch"}
        made = await browser.post(clients, data=form)
        assert made.status_code == 303, made.text
        location = made.headers["location"]
        assert re.fullmatch(rf"{clients}/[^/?]+/secret", location), "no secret in the URL"
        shown, reloaded = await browser.get(location), await browser.get(location)
        replayed = await browser.post(clients, data=form)
        assert secret_in(shown) and secret_in(shown) == secret_in(reloaded)
        assert shown.headers["cache-control"] == "no-store"
        assert replayed.status_code == 409 and form_tokens.REPLAYED in replayed.text
        assert await clients_named(identity, "Reload batch") == 1

        async with signed_in(identity, "ever.admin") as other_browser:
            elsewhere = await other_browser.get(location)
        assert elsewhere.status_code == 200 and secret_in(elsewhere) is None
        assert "The secret is no longer shown" in elsewhere.text

        stored = await browser.post(
            f"{location}/stored", data={"csrf_token": await csrf_of(browser, location)}
        )
        assert stored.status_code == 303 and stored.headers["location"].endswith("done=stored")
        after = await browser.get(location)
        assert secret_in(after) is None and "The secret is no longer shown" in after.text


async def test_a_new_secret_is_made_once_per_form(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    clients = f"/console/orgs/{org}/clients"
    async with signed_in(identity, "ever.admin") as browser:
        made = await browser.post(
            clients, data={"csrf_token": await csrf_of(browser, clients), "name": "Rotating"}
        )
        first = secret_in(await browser.get(made.headers["location"]))
        form = {"csrf_token": await csrf_of(browser, clients)}
        rotated = await browser.post(made.headers["location"], data=form)
        second = secret_in(await browser.get(rotated.headers["location"]))
        replayed = await browser.post(made.headers["location"], data=form)
        again = secret_in(await browser.get(rotated.headers["location"]))
    assert rotated.status_code == 303 and first and second and first != second
    assert replayed.status_code == 409 and again == second, "the replay made no third secret"


async def test_every_console_form_token_works_once(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    here = f"/console/orgs/{org}"
    async with signed_in(identity, "ever.admin") as browser:
        form = {"csrf_token": await csrf_of(browser, here), "name": "Eastside annex"}
        first = await browser.post(f"{here}/sub-organizations", data=form)
        second = await browser.post(f"{here}/sub-organizations", data=form)
        plain = await browser.post(
            f"{here}/sub-organizations",
            data={"csrf_token": await csrf_of(browser, "/account"), "name": "Plain token"},
        )
    assert first.status_code == 303 and first.headers["location"].endswith("done=suborg")
    assert second.status_code == 409 and "already sent" in second.text
    assert plain.status_code == 400, "a console form needs its single-use token"


async def test_a_mistake_comes_back_beside_its_field_with_the_values_kept(
    identity: IdentityHarness,
) -> None:
    org = await org_id_of(identity, EVERGREEN)
    here = f"/console/orgs/{org}"
    async with signed_in(identity, "ever.admin") as browser:
        wrong = await browser.post(
            f"{here}/tax-ids",
            data={
                "csrf_token": await csrf_of(browser, here),
                "tin": "12345",
                "legal_name": "Evergreen Family Clinic PLLC",
                "label": "Lab",
                "attest": "yes",
            },
        )
        keys = await browser.post(
            f"{here}/clients",
            data={
                "csrf_token": await csrf_of(browser, f"{here}/clients"),
                "name": "Signed batch",
                "jwks": "not json",
            },
        )
    assert wrong.status_code == 422
    text = wrong.text
    assert re.search(
        r'<span class="field-error" id="tin-tin-error">A Tax ID has exactly nine digits, '
        r"like 12-3456789.</span>\s*<input id=\"tin-tin\" name=\"tin\" type=\"text\" "
        r'autocomplete="off" value="12345" aria-invalid="true" aria-describedby="tin-tin-error">',
        text,
    ), text
    assert 'value="Evergreen Family Clinic PLLC"' in text and 'value="Lab"' in text
    assert re.search(r'id="tin-attest"[^>]* checked', text), "the ticked box stays ticked"
    assert '<a href="#tin-tin">' in text, "the summary links to the field"
    assert "(got" not in text and "12345'" not in text
    assert keys.status_code == 422 and 'id="c-jwks-error"' in keys.text
    assert "Paste the public keys as a JWKS" in keys.text and 'value="Signed batch"' in keys.text
    assert ">not json</textarea>" in keys.text
    assert await clients_named(identity, "Signed batch") == 0


async def test_a_field_breaking_the_input_rule_comes_back_beside_it(
    identity: IdentityHarness,
) -> None:
    org = await org_id_of(identity, EVERGREEN)
    here = f"/console/orgs/{org}"
    async with signed_in(identity, "ever.admin") as browser:
        token = await csrf_of(browser, here)
        long = await browser.post(
            f"{here}/sub-organizations", data={"csrf_token": token, "name": "N" * 300}
        )
        again = await browser.post(
            f"{here}/sub-organizations", data={"csrf_token": token, "name": "Northside annex"}
        )
    assert long.status_code == 422
    assert re.search(r'<span class="field-error" id="child-name-error">The field “Name”', long.text)
    assert 'aria-describedby="child-name-error"' in long.text
    assert again.status_code == 303, "the refused form used nothing up"


async def test_removing_a_tax_id_asks_first(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    here = f"/console/orgs/{org}"
    async with signed_in(identity, "ever.admin") as browser:
        added = await browser.post(
            f"{here}/tax-ids",
            data={
                "csrf_token": await csrf_of(browser, here),
                "tin": "33-4445555",
                "legal_name": "Evergreen Family Clinic PLLC",
                "attest": "yes",
            },
        )
        assert added.status_code == 303
        page = await browser.get(here)
        asked = await browser.get(f"{here}/tax-ids/334445555/remove")
        token = re.search(r'name="csrf_token" value="([^"]+)"', asked.text)
        assert token
        removed = await browser.post(
            f"{here}/tax-ids/334445555/remove", data={"csrf_token": token.group(1)}
        )
    assert re.search(rf'<form method="get" action="{here}/tax-ids/334445555/remove"', page.text)
    assert not re.search(
        rf'<form method="post" action="{here}/tax-ids/334445555/remove"', page.text
    )
    assert "<h1>Remove Tax ID 33-4445555 from Evergreen Family Clinic?</h1>" in asked.text
    assert '<button type="submit" class="danger">Remove Tax ID 33-4445555</button>' in asked.text
    assert f'<a href="{here}" class="cancel">' in asked.text
    assert removed.status_code == 303 and removed.headers["location"].endswith("done=tin_removed")
    async with identity.session() as session:
        assert await session.scalar(select(TaxId).where(TaxId.tin == "334445555")) is None


async def test_people_are_suspended_or_removed_after_a_question(identity: IdentityHarness) -> None:
    org, sam = await org_id_of(identity, EVERGREEN), await user_id_of(identity, "sam.biller")
    here = f"/console/orgs/{org}"
    async with signed_in(identity, "ever.admin") as browser:
        page = await browser.get(here)
        suspend = await browser.get(f"{here}/members/{sam}/suspend")
        remove = await browser.get(f"{here}/members/{sam}/remove")
    member_forms = re.findall(
        rf'<form method="(\w+)" action="{here}/members/{sam}/([\w-]+)"', page.text
    )
    assert set(member_forms) >= {("get", "suspend"), ("get", "remove")}
    assert ("post", "reactivate") not in member_forms, "no Reactivate for an active person"
    assert not {("post", "suspend"), ("post", "remove")} & set(member_forms)
    assert suspend.status_code == 200 and "can no longer sign in" in suspend.text
    assert 'class="danger">Suspend sam.biller</button>' in suspend.text
    assert remove.status_code == 200 and 'class="danger">Remove sam.biller</button>' in remove.text
    async with identity.session() as session:
        still = await session.scalar(select(Membership).where(Membership.user_id == sam))
    assert still is not None, "asking changed nothing"


async def test_the_console_shows_times_as_time_elements(identity: IdentityHarness) -> None:
    org = await org_id_of(identity, EVERGREEN)
    async with signed_in(identity, "ever.admin") as browser:
        page = await browser.get(f"/console/orgs/{org}")
        script = await browser.get("/static/time.js")
    last_sign_in = re.search(r'<time datetime="([^"]+)">([^<]+) UTC</time>', page.text)
    assert last_sign_in, "ever.admin's last sign-in is a <time> element"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", last_sign_in.group(1))
    assert '<script src="/static/time.js" defer></script>' in page.text
    assert script.status_code == 200 and "Intl.DateTimeFormat" in script.text
