"""Issue 14: go-live and UAT sign-off (and the other release actions) with a body that is
not a JSON object answer 400 in the one error shape (``request.data.get`` on ``None`` was a
500); an empty body still means "no comment"."""

from __future__ import annotations

import pytest

from tests.conftest import api_as
from tests.core.test_issue14_errors import assert_error
from tests.projects.test_release_control import ready_release

__all__ = ["ready_release"]  # the fixture, used by name


@pytest.mark.parametrize("body", ["null", "[]", '["x"]', '"text"', "7", "false"])
@pytest.mark.parametrize(
    "action",
    ["sign-off-uat", "go-live", "move-out", "change", "roll-back", "transitions/start_testing"],
)
def test_release_actions_refuse_a_body_that_is_not_an_object(
    org, project, ready_release, body, action
) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.change_manager).post(
        f"/api/v1/releases/{ready_release.pk}/{action}/", body, content_type="application/json"
    )
    assert_error(res, 400, "parse_error")
    ready_release.refresh_from_db()
    assert ready_release.status == "testing"  # nothing moved


def test_sign_off_with_no_body_still_works(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.change_manager).post(f"/api/v1/releases/{ready_release.pk}/sign-off-uat/")
    assert res.status_code in (200, 403, 409), res.content  # the service decides, not a 500
