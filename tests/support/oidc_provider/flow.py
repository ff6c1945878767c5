"""The authorization code flow without a browser: Django's test client plays
Coffer's side, a ``requests`` session the user's browser at the provider."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import requests

PASSWORD = "idp-password-" + "p" * 12


def unique(name: str) -> str:
    """A username no other test has used at the (session-wide) provider."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


class ProviderBrowser:
    """One person's browser at the provider: signs in there once, then follows
    Coffer's redirects to the authorization and end-session endpoints."""

    def __init__(self, provider, username: str, password: str = PASSWORD):
        self.provider = provider
        self.http = requests.Session()
        self.username = username
        self.password = password

    def sign_in(self) -> None:
        login = f"{self.provider.url}/accounts/login/"
        self.http.get(login, timeout=10).raise_for_status()
        answer = self.http.post(login, data={"username": self.username, "password": self.password, "next": "/whoami",
                                             "csrfmiddlewaretoken": self.http.cookies["idp_csrftoken"]},
                                headers={"Referer": login}, timeout=10, allow_redirects=False)
        assert answer.status_code == 302, f"the provider refused {self.username}: {answer.text[:300]}"

    def whoami(self) -> str | None:
        return self.http.get(f"{self.provider.url}/whoami", timeout=10).json()["username"]

    def follow(self, url: str) -> str:
        """GETs ``url`` at the provider; returns where it sends the browser back (a Location outside it)."""
        answer = self.http.get(url, timeout=10, allow_redirects=False)
        while answer.status_code in (301, 302) and answer.headers["Location"].startswith(self.provider.url):
            answer = self.http.get(answer.headers["Location"], timeout=10, allow_redirects=False)
        assert answer.status_code in (301, 302), f"{answer.status_code} from the provider:\n{self.provider.log_tail()}"
        return answer.headers["Location"]


def callback_path(location: str) -> str:
    """The provider's redirect back, as a path and query for the test client."""
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def sso_sign_in(client, browser: ProviderBrowser, next_url: str = ""):
    """"Sign in with …" on Coffer, through the provider and back; the callback's answer."""
    start = client.get("/oidc/authenticate/" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302, start
    back = browser.follow(start["Location"])
    return client.get(callback_path(back))


def configure_coffer(settings, provider, *, base_urls: list[str], recheck_seconds: int = 900) -> None:
    """Points Coffer's settings (pytest-django's ``settings``) at the test
    provider, and registers Coffer's callback and sign-out return at ``base_urls`` there."""
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_RP_CLIENT_ID = provider.client_id
    settings.OIDC_RP_CLIENT_SECRET = provider.client_secret
    settings.OIDC_OP_ISSUER = provider.issuer
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = provider.endpoint("authorization")
    settings.OIDC_OP_TOKEN_ENDPOINT = provider.endpoint("token")
    settings.OIDC_OP_USER_ENDPOINT = provider.endpoint("userinfo")
    settings.OIDC_OP_JWKS_ENDPOINT = provider.endpoint("jwks")
    settings.OIDC_OP_END_SESSION_ENDPOINT = provider.endpoint("end_session")
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = recheck_seconds
    provider.client_set(redirect_uris=[f"{base}/oidc/callback/" for base in base_urls],
                        post_logout_redirect_uris=[f"{base}/accounts/login/" for base in base_urls])
