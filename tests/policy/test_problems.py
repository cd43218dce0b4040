"""The one problem type every service raises (RFC 9457)."""

from __future__ import annotations

from policy.problems import TYPE_BASE, Problem


def test_a_problem_renders_its_members_and_extensions() -> None:
    refusal = Problem(
        409, "Not possible", "Tax ID 12-3456789 is already one.", "tin-exists", tin="1"
    )
    assert refusal.body() == {
        "type": TYPE_BASE + "tin-exists",
        "title": "Not possible",
        "status": 409,
        "detail": "Tax ID 12-3456789 is already one.",
        "tin": "1",
    }
    assert str(refusal) == "Tax ID 12-3456789 is already one." and refusal.headers == {}


def test_an_extension_never_replaces_a_standard_member() -> None:
    refusal = Problem(404, "Not found", "No member.", "not-found", type="https://elsewhere/")
    assert refusal.body()["type"] == TYPE_BASE + "not-found"
