"""Issue 14, the front door: production settings from the environment, `check --deploy`
clean, and the security headers (CSP, Permissions-Policy, Referrer-Policy, nosniff) on
every page a client gets."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The environment of the test run says nothing about production; each case says it all.
_DROP = {"SECRET_KEY", "DEBUG", "TANDEM_ENV", "DATABASE_URL", "ALLOWED_HOSTS"}
_DROP |= {k for k in os.environ if k.startswith(("SECURE_", "SESSION_COOKIE", "CSRF_COOKIE"))}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _DROP}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_LIKE = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "tandem.example.com",
}


@pytest.mark.parametrize(
    "extra", [{}, {"TANDEM_ENV": "production"}], ids=["debug-off", "tandem-env-production"]
)
def test_check_deploy_has_no_warnings(extra: dict[str, str]) -> None:
    """With DEBUG off, a long key and a host, `check --deploy` finds nothing: HSTS (with
    subdomains and preload), the SSL redirect and secure cookies are on by default."""
    res = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION_LIKE, **extra
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no issues" in res.stdout, res.stdout + res.stderr
    assert "WARNING" not in res.stderr


_SHOW = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k, None) for k in ("
    "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
    "'SECURE_HSTS_PRELOAD', 'SECURE_PROXY_SSL_HEADER', 'SESSION_COOKIE_SECURE', "
    "'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY')}))"
)


def _settings(**env: str) -> dict[str, object]:
    res = _run(["-c", _SHOW], **env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_https_only_settings_are_off_in_development() -> None:
    """`make run` serves plain http on 127.0.0.1 with DEBUG on by default: no redirect to
    https, no HSTS, cookies that travel over http."""
    got = _settings()
    assert got == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SESSION_COOKIE_HTTPONLY": True,
    }


def test_https_only_settings_are_on_in_production_and_each_can_be_set() -> None:
    got = _settings(**PRODUCTION_LIKE)
    assert got["SECURE_SSL_REDIRECT"] is True
    assert got["SECURE_HSTS_SECONDS"] == 31_536_000
    assert got["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert got["SECURE_HSTS_PRELOAD"] is True
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["SESSION_COOKIE_SECURE"] is True and got["CSRF_COOKIE_SECURE"] is True
    # An operator whose TLS ends elsewhere turns each one off (or changes it) explicitly.
    got = _settings(
        **PRODUCTION_LIKE,
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_PRELOAD="false",
        SECURE_PROXY_SSL_HEADER="",
    )
    assert got["SECURE_SSL_REDIRECT"] is False
    assert got["SECURE_HSTS_SECONDS"] == 600
    assert got["SECURE_HSTS_PRELOAD"] is False
    assert got["SECURE_PROXY_SSL_HEADER"] is None


def test_a_bad_proxy_header_setting_is_refused_at_start() -> None:
    res = _run(["-c", _SHOW], **PRODUCTION_LIKE, SECURE_PROXY_SSL_HEADER="X_FORWARDED_PROTO")
    assert res.returncode != 0 and "SECURE_PROXY_SSL_HEADER" in res.stderr


def test_production_redirects_to_https_but_not_the_health_probes() -> None:
    code = (
        "import django; django.setup(); from django.test import Client; "
        "from django.test.utils import setup_test_environment; setup_test_environment(); "
        "c = Client(HTTP_HOST='tandem.example.com'); "
        "print(c.get('/accounts/login/').status_code, c.get('/accounts/login/')['Location'], "
        "c.get('/accounts/login/', HTTP_X_FORWARDED_PROTO='https').status_code, "
        "c.get('/healthz').status_code != 301)"
    )
    res = _run(["-c", code], **PRODUCTION_LIKE)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [
        "301",
        "https://tandem.example.com/accounts/login/",
        "200",
        "True",
    ]


EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
}


def _csp(header: str) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in header.split(";") if p.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


@pytest.mark.django_db
def test_every_page_carries_the_security_headers(client, org) -> None:  # type: ignore[no-untyped-def]
    """The CSP is on in every mode, tests included: no inline script, no eval."""
    client.force_login(org.agent)
    for url in ["/accounts/login/", "/", "/desk/", "/kb/", "/api/v1/incidents/"]:
        response = client.get(url)
        assert response.status_code in (200, 302), url
        csp = _csp(response["Content-Security-Policy"])
        for directive, value in EXPECTED_CSP.items():
            assert csp[directive] == value, (url, directive)
        assert "unsafe-eval" not in response["Content-Security-Policy"]
        assert "camera=()" in response["Permissions-Policy"]
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=|\shx-on[:-]|javascript:", re.I)


def test_no_template_carries_script_the_csp_would_block() -> None:
    """The CSP refuses inline script, on*= handlers, hx-on (eval) and javascript: URLs:
    behaviour lives in static/js (tandem.js handles data-confirm, data-autosubmit,
    data-action-template, data-swap-errors, data-history-back)."""
    found = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        for n, line in enumerate(template.read_text().splitlines(), 1):
            if INLINE_SCRIPT.search(line) or INLINE_HANDLER.search(line):
                found.append(f"{template.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert found == []
