"""Issue 14: sign-in against a real LDAP directory. Each test module run starts a private
OpenLDAP slapd (python-ldap's ``slapdtest``, what django-auth-ldap's own tests use) on a
free port with a throwaway configuration, loads people and groups into it, and turns
Tandem's LDAP sign-in on from the LDAP_* variables through ``config/settings.py`` itself.
People sign in through the sign-in page like everyone else."""

from __future__ import annotations

import os
import runpy
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from core.models import AuditEvent
from core.roles import Role
from tests.factories import UserFactory

pytest.importorskip(
    "ldap", reason="python-ldap is not installed: pip install '.[ldap]' (needs libldap2-dev)"
)
pytest.importorskip("django_auth_ldap", reason="django-auth-ldap is not installed: '.[ldap]'")
# slapd and slapadd live in /usr/sbin, which an ordinary user's PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", os.defpath), "/usr/local/sbin", "/usr/sbin"])
if not all(shutil.which(tool, path=SEARCH_PATH) for tool in ("slapd", "slapadd", "ldapadd")):
    pytest.skip(
        "no OpenLDAP server (slapd) or its tools (ldap-utils) to test against: "
        "apt-get install slapd ldap-utils",
        allow_module_level=True,
    )
import slapdtest  # noqa: E402  (python-ldap's; imported once slapd is known to be there)

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token/"
BASE = "dc=acme,dc=test"
READER = f"cn=tandem-reader,{BASE}"
PASSWORDS = {"ana": "ana-directory-pw", "ben": "ben-directory-pw", "dan": "dan-directory-pw"}
MAPPING = (
    "tandem-agents=Service Desk Agent;tandem-developers=Developer;"
    "tandem-change=Change Manager;tandem-change=Developer"
)

# Acme's directory. The reader (the account Tandem searches with) is also a member of the
# groups a test empties of people: a groupOfNames must keep one member.
DIRECTORY = f"""\
dn: {BASE}
objectClass: dcObject
objectClass: organization
dc: acme
o: Acme

dn: {READER}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: tandem-reader
userPassword: reader-pw

dn: ou=people,{BASE}
objectClass: organizationalUnit
ou: people

dn: uid=ana,ou=people,{BASE}
objectClass: inetOrgPerson
uid: ana
cn: Ana Silva
givenName: Ana
sn: Silva
mail: ana@acme.test
userPassword: {PASSWORDS["ana"]}

dn: uid=ben,ou=people,{BASE}
objectClass: inetOrgPerson
uid: ben
cn: Ben Okafor
givenName: Ben
sn: Okafor
mail: ben@acme.test
userPassword: {PASSWORDS["ben"]}

dn: uid=dan,ou=people,{BASE}
objectClass: inetOrgPerson
uid: dan
cn: Dan Reyes
givenName: Dan
sn: Reyes
mail: dan@acme.test
userPassword: {PASSWORDS["dan"]}

dn: ou=groups,{BASE}
objectClass: organizationalUnit
ou: groups

dn: cn=tandem-agents,ou=groups,{BASE}
objectClass: groupOfNames
cn: tandem-agents
member: uid=ana,ou=people,{BASE}
member: {READER}

dn: cn=tandem-developers,ou=groups,{BASE}
objectClass: groupOfNames
cn: tandem-developers
member: uid=ben,ou=people,{BASE}
member: {READER}

dn: cn=tandem-change,ou=groups,{BASE}
objectClass: groupOfNames
cn: tandem-change
member: uid=dan,ou=people,{BASE}

dn: cn=everyone,ou=groups,{BASE}
objectClass: groupOfNames
cn: everyone
member: uid=ana,ou=people,{BASE}
member: uid=ben,ou=people,{BASE}
member: uid=dan,ou=people,{BASE}

dn: ou=unique-groups,{BASE}
objectClass: organizationalUnit
ou: unique-groups

dn: cn=tandem-agents,ou=unique-groups,{BASE}
objectClass: groupOfUniqueNames
cn: tandem-agents
uniqueMember: uid=ben,ou=people,{BASE}

dn: ou=posix-groups,{BASE}
objectClass: organizationalUnit
ou: posix-groups

dn: cn=tandem-agents,ou=posix-groups,{BASE}
objectClass: posixGroup
cn: tandem-agents
gidNumber: 5001
memberUid: ben
"""


class Directory(slapdtest.SlapdObject):
    TMPDIR = tempfile.gettempdir()  # slapdtest's default is the working directory
    BIN_PATH = SBIN_PATH = SEARCH_PATH
    suffix = BASE
    # Like many organisations' directories: passwords are only for binding, and the groups
    # are read by the service account alone, not by the people in them.
    slapd_conf_template = slapdtest.SlapdObject.slapd_conf_template + (
        "olcAccess: {0}to attrs=userPassword by anonymous auth by * none\n"
        f'olcAccess: {{1}}to dn.regex="^cn=[^,]+,ou=[^,]*groups,{BASE}$" '
        f'by dn.exact="{READER}" read by * none\n'
        "olcAccess: {2}to * by * read\n"
    )
    openldap_schema_files = ("core.ldif", "cosine.ldif", "inetorgperson.ldif", "nis.ldif")


@pytest.fixture(scope="module")
def directory() -> Iterator[Directory]:
    server = Directory()
    server.start()
    try:
        server.ldapadd(DIRECTORY)
        yield server
    finally:
        server.stop()


def _load_settings(settings: Any, monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Run config/settings.py with these LDAP_* variables (and no others) and take over
    what it makes of them: the settings block under test is the one that ships."""
    for name in list(os.environ):
        if name.startswith("LDAP_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    loaded = runpy.run_path(str(ROOT / "config" / "settings.py"))
    for name, value in loaded.items():
        if name.startswith("AUTH_LDAP_") or name in {
            "AUTHENTICATION_BACKENDS",
            "SSO_GROUP_ROLES",
            "SSO_DEFAULT_ROLES",
        }:
            setattr(settings, name, value)


def _env(directory: Directory, **extra: str) -> dict[str, str]:
    return {
        "LDAP_SERVER_URI": directory.ldap_uri,
        "LDAP_BIND_DN": READER,
        "LDAP_BIND_PASSWORD": "reader-pw",
        "LDAP_USER_SEARCH_BASE": f"ou=people,{BASE}",
        "LDAP_GROUP_SEARCH_BASE": f"ou=groups,{BASE}",
        "SSO_GROUP_ROLES": MAPPING,
        **extra,
    }


@pytest.fixture
def ldap_on(directory, settings, monkeypatch, db):  # type: ignore[no-untyped-def]
    _load_settings(settings, monkeypatch, **_env(directory))
    settings.AXES_FAILURE_LIMIT = 5
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 20
    return directory


@dataclass
class SignIn:
    """One try on the sign-in page, from a fresh browser."""

    client: Client
    response: Any

    @property
    def user(self) -> Any:
        """Who the browser is signed in as afterwards (None: nobody)."""
        user_id = self.client.session.get("_auth_user_id")
        return get_user_model().objects.get(pk=user_id) if user_id else None


def _sign_in(username: str, password: str, *, address: str = "10.0.0.1") -> SignIn:
    client = Client(REMOTE_ADDR=address)
    return SignIn(client, client.post(LOGIN, {"username": username, "password": password}))


def _roles(user: Any) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_a_directory_user_signs_in_through_the_sign_in_page(ldap_on) -> None:  # type: ignore[no-untyped-def]
    """First sign-in: the person is created from the directory's entry (name, e-mail, no
    local password) with the roles their groups map to, and can use Tandem."""
    attempt = _sign_in("ana", PASSWORDS["ana"])
    assert attempt.response.status_code == 302
    ana = attempt.user
    assert ana is not None and ana.username == "ana"
    assert attempt.client.session["_auth_user_backend"] == "core.sso.ldap.TandemLDAPBackend"
    assert (ana.get_full_name(), ana.email) == ("Ana Silva", "ana@acme.test")
    assert not ana.has_usable_password()  # the directory holds the password
    assert not ana.is_staff and not ana.is_superuser
    assert _roles(ana) == {Role.SERVICE_DESK_AGENT}  # "everyone" maps to nothing
    synced = AuditEvent.objects.get(object_id=ana.pk, action="roles_synced")
    assert synced.actor is None and synced.changes == {"roles": [[], ["Service Desk Agent"]]}
    assert "LDAP" in synced.comment
    signed_in = AuditEvent.objects.get(object_id=ana.pk, action="signed_in")
    assert signed_in.actor == ana and signed_in.comment == "LDAP"
    # An agent's desk opens for her, on the session the directory sign-in started.
    assert attempt.client.get("/desk/").status_code == 200
    assert "Ana Silva" in attempt.client.get("/profile/tokens/").content.decode()  # her own page
    # The next sign-in finds the same person (no second account).
    assert _sign_in("ana", PASSWORDS["ana"]).user.pk == ana.pk
    assert get_user_model().objects.filter(username__iexact="ana").count() == 1


def test_a_wrong_directory_password_is_refused_and_counts_toward_the_lock_out(ldap_on) -> None:  # type: ignore[no-untyped-def]
    attempt = _sign_in("ben", "not-bens-password")
    assert attempt.response.status_code == 200
    assert b"Your username and password did not match." in attempt.response.content
    assert attempt.user is None
    assert not get_user_model().objects.filter(username="ben").exists()  # nobody created
    failed = AuditEvent.objects.filter(action="sign_in_failed").get()
    assert failed.changes["username"] == [None, "ben"]
    for _ in range(3):
        assert _sign_in("ben", "still-wrong").response.status_code == 200
    assert _sign_in("ben", "wrong-again").response.status_code == 429  # the fifth
    locked = _sign_in("ben", PASSWORDS["ben"], address="10.9.9.9")
    assert locked.response.status_code == 429  # the right one too
    assert locked.user is None
    assert AuditEvent.objects.filter(action="locked_out").exists()


def test_a_group_change_in_the_directory_changes_the_role_at_the_next_sign_in(ldap_on) -> None:  # type: ignore[no-untyped-def]
    ben = _sign_in("ben", PASSWORDS["ben"]).user
    assert _roles(ben) == {Role.DEVELOPER}
    ldap_on.ldapmodify(
        f"dn: cn=tandem-developers,ou=groups,{BASE}\nchangetype: modify\n"
        f"delete: member\nmember: uid=ben,ou=people,{BASE}\n\n"
        f"dn: cn=tandem-agents,ou=groups,{BASE}\nchangetype: modify\n"
        f"add: member\nmember: uid=ben,ou=people,{BASE}\n"
    )
    try:
        again = _sign_in("ben", PASSWORDS["ben"]).user
        assert again.pk == ben.pk
        assert _roles(ben) == {Role.SERVICE_DESK_AGENT}
        changes = [
            e.changes["roles"]
            for e in AuditEvent.objects.filter(object_id=ben.pk, action="roles_synced").order_by(
                "id"
            )
        ]
        assert changes == [[[], ["Developer"]], [["Developer"], ["Service Desk Agent"]]]
    finally:
        ldap_on.ldapmodify(
            f"dn: cn=tandem-agents,ou=groups,{BASE}\nchangetype: modify\n"
            f"delete: member\nmember: uid=ben,ou=people,{BASE}\n\n"
            f"dn: cn=tandem-developers,ou=groups,{BASE}\nchangetype: modify\n"
            f"add: member\nmember: uid=ben,ou=people,{BASE}\n"
        )


def test_one_group_grants_several_roles_and_hand_given_roles_stay(ldap_on) -> None:  # type: ignore[no-untyped-def]
    """dan's one group maps to two roles; a role an administrator gave him by hand that no
    group maps to stays; a mapped role his groups do not grant is taken back."""
    dan = UserFactory(username="dan", roles=[Role.PROJECT_MANAGER, Role.SERVICE_DESK_AGENT])
    dan.set_unusable_password()  # a directory account (its password is in the directory)
    dan.save()
    assert _sign_in("dan", PASSWORDS["dan"]).user.pk == dan.pk
    assert _roles(dan) == {Role.CHANGE_MANAGER, Role.DEVELOPER, Role.PROJECT_MANAGER}


def test_a_local_account_still_signs_in_with_ldap_on(ldap_on) -> None:  # type: ignore[no-untyped-def]
    UserFactory(username="carol", roles=[Role.INCIDENT_MANAGER])  # password "pw"
    attempt = _sign_in("carol", "pw")
    assert attempt.response.status_code == 302
    carol = attempt.user
    assert carol.username == "carol"
    assert (
        attempt.client.session["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"
    )
    assert AuditEvent.objects.get(object_id=carol.pk, action="signed_in").comment == ""
    assert _sign_in("carol", "wrong").user is None


def test_a_local_account_is_not_taken_over_by_a_directory_namesake(ldap_on) -> None:  # type: ignore[no-untyped-def]
    """A local 'ben' (with a local password) is another person than the directory's ben:
    ben's directory password does not open it, nor change its roles or its name."""
    local = UserFactory(
        username="ben",
        first_name="Benedikt",
        email="benedikt@local.test",
        roles=[Role.ADMINISTRATOR],
    )
    attempt = _sign_in("ben", PASSWORDS["ben"])
    assert attempt.response.status_code == 200
    assert attempt.user is None
    local.refresh_from_db()
    assert (local.first_name, local.email) == ("Benedikt", "benedikt@local.test")
    assert _roles(local) == {Role.ADMINISTRATOR}
    assert _sign_in("ben", "pw").user.pk == local.pk  # its own password still works


def test_a_deactivated_directory_user_is_refused_on_the_page_and_the_api(ldap_on) -> None:  # type: ignore[no-untyped-def]
    """An administrator who deactivates a directory person in Tandem shuts them out, even
    though the directory still accepts their password."""
    ana = _sign_in("ana", PASSWORDS["ana"]).user
    ana.is_active = False
    ana.save(update_fields=["is_active"])
    assert _sign_in("ana", PASSWORDS["ana"]).user is None
    response = Client(REMOTE_ADDR="10.0.0.2").post(
        TOKEN, {"username": "ana", "password": PASSWORDS["ana"]}
    )
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(
        object_id=ana.pk, action="signed_in", comment="API token"
    ).exists()


def test_the_api_token_sign_in_works_for_a_directory_user(ldap_on) -> None:  # type: ignore[no-untyped-def]
    response = Client().post(TOKEN, {"username": "ben", "password": PASSWORDS["ben"]})
    assert response.status_code == 200 and response.json()["token"]
    assert _roles(get_user_model().objects.get(username="ben")) == {Role.DEVELOPER}


@pytest.mark.parametrize(
    ("group_type", "ou"),
    [("groupOfUniqueNames", "unique-groups"), ("posixGroup", "posix-groups")],
)
def test_each_group_type_finds_its_groups_without_a_filter_of_its_own(  # type: ignore[no-untyped-def]
    directory, settings, monkeypatch, db, group_type, ou
) -> None:
    """LDAP_GROUP_TYPE alone is enough: the search looks for groups of that type."""
    env = _env(directory, LDAP_GROUP_TYPE=group_type, LDAP_GROUP_SEARCH_BASE=f"ou={ou},{BASE}")
    _load_settings(settings, monkeypatch, **env)
    ben = _sign_in("ben", PASSWORDS["ben"]).user
    assert _roles(ben) == {Role.SERVICE_DESK_AGENT}


def test_an_unreachable_directory_refuses_directory_users_and_not_local_ones(  # type: ignore[no-untyped-def]
    directory, settings, monkeypatch, db
) -> None:
    """The directory is down: its people are refused like a wrong password (no 500), and
    local accounts sign in as before."""
    closed = Directory()  # a free port nobody listens on
    _load_settings(settings, monkeypatch, **_env(directory, LDAP_SERVER_URI=closed.ldap_uri))
    attempt = _sign_in("ana", PASSWORDS["ana"])
    assert attempt.response.status_code == 200
    assert attempt.user is None
    UserFactory(username="carol")
    assert _sign_in("carol", "pw").user.username == "carol"


def test_a_failed_group_search_refuses_the_sign_in_and_keeps_the_roles(  # type: ignore[no-untyped-def]
    directory, settings, monkeypatch, db
) -> None:
    """The password is right but the directory fails to name the groups (here: a group
    base that does not exist): the sign-in is refused, nobody is created half-way, and a
    known person's roles are not taken away as if they were in no group."""
    env = _env(directory, LDAP_GROUP_SEARCH_BASE=f"ou=gone,{BASE}")
    _load_settings(settings, monkeypatch, **env)
    attempt = _sign_in("ana", PASSWORDS["ana"])
    assert attempt.response.status_code == 200
    assert attempt.user is None
    assert not get_user_model().objects.filter(username="ana").exists()
    ben = UserFactory(username="ben", first_name="B", roles=[Role.DEVELOPER])
    ben.set_unusable_password()
    ben.save()
    assert _sign_in("ben", PASSWORDS["ben"]).user is None
    ben.refresh_from_db()
    assert _roles(ben) == {Role.DEVELOPER} and ben.first_name == "B"


def test_a_stuck_directory_refuses_after_the_timeout(directory, settings, monkeypatch, db) -> None:  # type: ignore[no-untyped-def]
    """A directory that takes the connection and never answers holds a sign-in for
    LDAP_TIMEOUT_SECONDS, not for the system's TCP timeout."""
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(8)  # the kernel accepts the connection; nobody ever answers
    try:
        uri = f"ldap://127.0.0.1:{stuck.getsockname()[1]}/"
        env = _env(directory, LDAP_SERVER_URI=uri, LDAP_TIMEOUT_SECONDS="1")
        _load_settings(settings, monkeypatch, **env)
        started = time.monotonic()
        attempt = _sign_in("ana", PASSWORDS["ana"])
        assert time.monotonic() - started < 10
    finally:
        stuck.close()
    assert attempt.response.status_code == 200
    assert attempt.user is None


def test_with_ldap_not_configured_nothing_changes(directory, settings, monkeypatch, db) -> None:  # type: ignore[no-untyped-def]
    """The same settings without LDAP_SERVER_URI: the local backends only, and the
    directory's people are strangers (the directory is up; Tandem just does not ask it)."""
    env = _env(directory)
    del env["LDAP_SERVER_URI"]
    _load_settings(settings, monkeypatch, **env)
    assert settings.AUTHENTICATION_BACKENDS == [
        "core.signin.LockoutBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    assert not hasattr(settings, "AUTH_LDAP_SERVER_URI")
    assert _sign_in("ana", PASSWORDS["ana"]).user is None
    assert not get_user_model().objects.filter(username="ana").exists()
    UserFactory(username="carol")
    assert _sign_in("carol", "pw").user.username == "carol"
