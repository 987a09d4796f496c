"""Issue 14: single sign-on by configuration. OpenID Connect signs people in (found by
e-mail, created at first sign-in) and their identity provider's groups map to Tandem's
roles through SSO_GROUP_ROLES; LDAP does the same with the directory's groups; local
accounts keep working; the login page offers "Sign in with …" only when configured."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.urls import include, path

import config.urls
from core.models import AuditEvent
from core.roles import Role
from core.sso import check_group_roles, parse_group_roles, roles_sync
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
MAPPING = (
    "tandem-agents=Service Desk Agent;tandem-managers=Incident Manager;"
    "tandem-managers=Service Desk Agent;tandem-admins=Administrator"
)
OIDC = {
    "OIDC_ENABLED": True,
    "OIDC_PROVIDER_NAME": "Acme ID",
    "OIDC_RP_CLIENT_ID": "tandem",
    "OIDC_RP_CLIENT_SECRET": "s3cret",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://id.acme.test/authorize",
    "OIDC_OP_TOKEN_ENDPOINT": "https://id.acme.test/token",
    "OIDC_OP_USER_ENDPOINT": "https://id.acme.test/userinfo",
    "OIDC_OP_JWKS_ENDPOINT": "https://id.acme.test/jwks",
    "OIDC_RP_SIGN_ALGO": "RS256",
    "OIDC_RP_SCOPES": "openid email profile",
    "OIDC_GROUPS_CLAIM": "groups",
    "SSO_GROUP_ROLES": MAPPING,
    "SSO_DEFAULT_ROLES": ["Requester"],
}

# The login page's test needs the provider's URLs, which config.urls adds only when
# OIDC_RP_CLIENT_ID is set at start-up.
urlpatterns = [*config.urls.urlpatterns, path("oidc/", include("mozilla_django_oidc.urls"))]


@pytest.fixture
def oidc(settings):  # type: ignore[no-untyped-def]
    for name, value in OIDC.items():
        setattr(settings, name, value)
    return settings


def _sign_in(claims: dict[str, Any]) -> Any:
    """The backend's path from the provider's answer to a user, without the HTTP calls:
    the claims are what the userinfo endpoint returned."""
    from core.sso.oidc import TandemOIDCBackend

    backend = TandemOIDCBackend()
    backend.get_userinfo = lambda *args: claims  # type: ignore[method-assign]
    return backend.get_or_create_user("access-token", "id-token", {})


def _roles(user: Any) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


@pytest.mark.django_db
def test_first_oidc_sign_in_creates_the_person_with_the_roles_of_their_groups(oidc) -> None:  # type: ignore[no-untyped-def]
    user = _sign_in(
        {
            "email": "ana@acme.test",
            "preferred_username": "ana",
            "given_name": "Ana",
            "family_name": "Silva",
            "groups": ["tandem-agents", "everyone"],
        }
    )
    assert (user.username, user.email, user.get_full_name()) == (
        "ana",
        "ana@acme.test",
        "Ana Silva",
    )
    assert not user.has_usable_password()  # signs in through the provider only
    assert _roles(user) == {Role.SERVICE_DESK_AGENT}
    row = AuditEvent.objects.get(object_id=user.pk, action="roles_synced")
    assert row.actor is None and row.changes == {"roles": [[], ["Service Desk Agent"]]}
    assert "Acme ID" in row.comment


@pytest.mark.django_db
def test_later_sign_ins_follow_the_groups_and_keep_roles_given_by_hand(oidc) -> None:  # type: ignore[no-untyped-def]
    """Roles the mapping names follow the groups both ways; a role no group maps to
    (given by an administrator) stays."""
    user = UserFactory(
        username="bo", email="bo@acme.test", roles=[Role.SERVICE_DESK_AGENT, Role.DEVELOPER]
    )
    same = _sign_in({"email": "bo@acme.test", "groups": ["tandem-managers"], "given_name": "Bo"})
    assert same.pk == user.pk and same.first_name == "Bo"
    assert _roles(user) == {Role.INCIDENT_MANAGER, Role.SERVICE_DESK_AGENT, Role.DEVELOPER}
    _sign_in({"email": "bo@acme.test", "groups": []})
    assert _roles(user) == {Role.DEVELOPER}
    rows = AuditEvent.objects.filter(object_id=user.pk, action="roles_synced").count()
    _sign_in({"email": "bo@acme.test", "groups": ["a-group-no-one-maps"]})  # nothing changes
    assert AuditEvent.objects.filter(object_id=user.pk, action="roles_synced").count() == rows


@pytest.mark.django_db
def test_a_person_in_no_mapped_group_is_a_requester(oidc) -> None:  # type: ignore[no-untyped-def]
    user = _sign_in({"email": "cy@acme.test", "groups": "everyone"})
    assert _roles(user) == {Role.REQUESTER}


@pytest.mark.django_db
def test_a_local_account_is_never_taken_over_by_a_namesake(oidc) -> None:  # type: ignore[no-untyped-def]
    """Found by e-mail only: a provider's 'pat' with another address is a new person."""
    local = UserFactory(username="pat", email="pat@local.test", roles=[Role.ADMINISTRATOR])
    user = _sign_in(
        {"email": "pat@acme.test", "preferred_username": "pat", "groups": ["tandem-agents"]}
    )
    assert user.pk != local.pk and user.username == "pat-2"
    assert _roles(local) == {Role.ADMINISTRATOR}


@pytest.mark.django_db
def test_claims_without_an_email_are_refused(oidc) -> None:  # type: ignore[no-untyped-def]
    from django.core.exceptions import SuspiciousOperation

    with pytest.raises(SuspiciousOperation):
        _sign_in({"preferred_username": "nobody", "groups": ["tandem-admins"]})
    assert not get_user_model().objects.filter(username="nobody").exists()


@pytest.mark.django_db
def test_ldap_groups_map_to_roles(settings) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip(
        "django_auth_ldap",
        reason="python-ldap needs libldap2-dev and libsasl2-dev to build: the 'ldap' extra",
    )
    from django_auth_ldap.backend import LDAPBackend

    from core.sso.ldap import TandemLDAPBackend

    settings.SSO_GROUP_ROLES = MAPPING
    user = UserFactory(username="dee")

    class FakeLdapUser:
        group_names = {"tandem-admins"}

    original = LDAPBackend.authenticate_ldap_user
    LDAPBackend.authenticate_ldap_user = lambda self, ldap_user, password: user  # type: ignore[method-assign]
    try:
        assert TandemLDAPBackend().authenticate_ldap_user(FakeLdapUser(), "pw") == user
    finally:
        LDAPBackend.authenticate_ldap_user = original  # type: ignore[method-assign]
    assert _roles(user) == {Role.ADMINISTRATOR}


@pytest.mark.django_db
def test_roles_sync_is_the_same_for_every_directory(settings) -> None:  # type: ignore[no-untyped-def]
    """What the LDAP backend calls with the directory's group names (runs without
    python-ldap)."""
    settings.SSO_GROUP_ROLES = MAPPING
    user = UserFactory(username="eve")
    assert roles_sync(user=user, groups={"tandem-admins"}, source="LDAP") == {"Administrator"}
    assert _roles(user) == {Role.ADMINISTRATOR}


@pytest.mark.django_db
def test_group_names_match_without_case(settings) -> None:  # type: ignore[no-untyped-def]
    """A directory compares a cn without case (cn=Tandem-Admins is cn=tandem-admins)."""
    settings.SSO_GROUP_ROLES = MAPPING
    user = UserFactory(username="eve")
    assert roles_sync(user=user, groups={"TANDEM-Admins"}, source="LDAP") == {"Administrator"}


def test_the_group_mapping_is_checked() -> None:
    assert parse_group_roles("a=Administrator; b=Developer ;a=Requester") == {
        "a": ["Administrator", "Requester"],
        "b": ["Developer"],
    }
    with pytest.raises(ImproperlyConfigured, match="'oops' is not 'group=Role name'"):
        parse_group_roles("a=Administrator;oops")


def test_a_mapping_to_an_unknown_role_fails_the_system_check(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SSO_GROUP_ROLES = "bosses=Boss"
    errors = check_group_roles()
    assert [e.id for e in errors] == ["tandem.E142"] and "Boss" in errors[0].msg
    settings.SSO_GROUP_ROLES = MAPPING
    assert check_group_roles() == []


@pytest.mark.django_db
def test_login_page_offers_sso_only_when_configured(client, settings) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Sign in with" not in page.content

    for name, value in OIDC.items():
        setattr(settings, name, value)
    settings.ROOT_URLCONF = __name__
    page = client.get("/accounts/login/?next=/desk/")
    html = page.content.decode()
    assert 'id="sso-sign-in" href="/oidc/authenticate/?next=/desk/"' in html
    assert "Sign in with Acme ID" in html
    assert 'name="password"' in html  # local accounts keep their form
    # The button leads to the provider's authorisation endpoint.
    response = client.get("/oidc/authenticate/?next=/desk/")
    assert response.status_code == 302
    assert response["Location"].startswith("https://id.acme.test/authorize?")
    assert "client_id=tandem" in response["Location"]


_SHOW_BACKENDS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.AUTHENTICATION_BACKENDS, 'mozilla_django_oidc' in s.INSTALLED_APPS]))"
)


def _backends(**env: str) -> list[Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "LDAP_"))}
    res = subprocess.run(
        [sys.executable, "-c", _SHOW_BACKENDS],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_sso_backends_are_added_only_when_configured_after_local_accounts() -> None:
    local = ["core.signin.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
    assert _backends() == [local, False]  # the lock-out first, before any password check
    env = {k: str(v) for k, v in OIDC.items() if k.startswith("OIDC_") and k != "OIDC_ENABLED"}
    assert _backends(**env) == [[*local, "core.sso.oidc.TandemOIDCBackend"], True]
    if importlib.util.find_spec("django_auth_ldap"):  # the 'ldap' extra
        ldap_env = {"LDAP_SERVER_URI": "ldap://127.0.0.1:1/", "LDAP_USER_SEARCH_BASE": "dc=a"}
        assert _backends(**ldap_env) == [[*local, "core.sso.ldap.TandemLDAPBackend"], False]
