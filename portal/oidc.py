"""Council sign-in with OpenID Connect (Entra ID or any certified provider).

Authorisation code flow with PKCE (S256), a ``state`` bound to the browser's pre-login session
and a ``nonce`` bound to the ID token. The ID token's signature (provider JWKS), issuer,
audience, expiry and nonce are all checked before anything else is read; the role comes from
the provider's groups claim through the council's mapping, never from anything the browser
sends. Local argon2 accounts stay as break-glass access: a provider login never takes over a
local account of the same name.

Authlib builds the authorisation request and the PKCE challenge; joserfc (Authlib's JOSE
library) verifies the ID token.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from safeguard.portal.schema import oidc_logins
from safeguard.portal.settings import ROLES

if TYPE_CHECKING:
    from safeguard.portal.database import PortalDatabase

PENDING_FOR = timedelta(minutes=10)
DISCOVERY_TTL_S = 3600
LEEWAY_S = 60
ALGORITHMS = ("RS256", "PS256", "ES256")
#: Stored instead of a password hash: argon2 refuses it, so the password form never opens it.
SSO_PASSWORD_HASH = "!oidc"


class OidcError(Exception):
    """The sign-in cannot complete; the message is for the log and the audit, not the page."""


class OidcNoRoleError(OidcError):
    """The provider vouched for the person, but none of their groups opens the portal."""


@dataclass(frozen=True)
class OidcSettings:
    """The council's provider and how its groups become portal roles.

    Parameters
    ----------
    issuer
        The provider's issuer URL (discovery at ``ISSUER/.well-known/openid-configuration``).
    client_id, client_secret
        This portal's registration at the provider.
    redirect_url
        The portal's callback, as registered: ``https://PORTAL/login/oidc/callback``.
    role_groups
        ``(group, role)`` pairs, first match wins: e.g. ``("sg-admins", "admin")``.
    """

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_url: str
    role_groups: tuple[tuple[str, str], ...]
    scopes: str = "openid profile email"
    groups_claim: str = "groups"
    username_claim: str = "preferred_username"
    worker_claim: str = "employee_id"
    team_claim: str = "department"

    def __post_init__(self) -> None:
        bad = [role for _, role in self.role_groups if role not in ROLES]
        if bad:
            raise ValueError(f"OIDC role mapping names unknown role(s) {bad}: use {ROLES}")


@dataclass(frozen=True)
class OidcIdentity:
    """Who the provider says signed in, and the role their groups map to."""

    username: str
    display_name: str
    role: str
    worker_id: str | None
    team: str | None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class OidcClient:
    """The portal's side of the protocol; discovery and keys are fetched once and cached."""

    def __init__(
        self,
        settings: OidcSettings,
        *,
        clock: Callable[[], datetime],
        http: httpx.Client | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._http = http or httpx.Client(timeout=10.0, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._fetched = 0.0
        self._keys: KeySet | None = None

    def _discovery(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched > DISCOVERY_TTL_S:
                url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
                metadata = self._get_json(url)
                if metadata.get("issuer") != self.settings.issuer:
                    raise OidcError(
                        f"discovery document names issuer {metadata.get('issuer')!r}, "
                        f"not the configured {self.settings.issuer!r}"
                    )
                self._metadata, self._fetched, self._keys = metadata, time.monotonic(), None
            return self._metadata

    def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.get(url, **kwargs)
            response.raise_for_status()
            return dict(response.json())
        except (httpx.HTTPError, ValueError) as error:
            raise OidcError(f"{url}: {error}") from error

    def _key_set(self, refresh: bool = False) -> KeySet:
        metadata = self._discovery()
        with self._lock:
            if self._keys is None or refresh:
                self._keys = KeySet.import_key_set(self._get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
            return self._keys

    def begin(self, conn: sa.Connection, session_id: str, next_path: str) -> str:
        """Record a pending sign-in for this browser session; return the provider URL."""
        metadata = self._discovery()
        state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
        now = self._clock()
        conn.execute(sa.delete(oidc_logins).where(oidc_logins.c.created_at < now - PENDING_FOR))
        conn.execute(
            sa.insert(oidc_logins).values(
                state_hash=_hash(state),
                session_hash=_hash(session_id),
                nonce=nonce,
                code_verifier=verifier,
                next_path=next_path,
                created_at=now,
            )
        )
        return str(
            prepare_grant_uri(
                metadata["authorization_endpoint"],
                client_id=self.settings.client_id,
                response_type="code",
                redirect_uri=self.settings.redirect_url,
                scope=self.settings.scopes,
                state=state,
                nonce=nonce,
                code_challenge=create_s256_code_challenge(verifier),
                code_challenge_method="S256",
            )
        )

    def complete(
        self, database: PortalDatabase, session_id: str, state: str, code: str
    ) -> tuple[OidcIdentity, str]:
        """Exchange the code, verify the ID token, read userinfo; return who and where next.

        The pending sign-in is used up (committed) before anything else, whatever the outcome:
        a state is never accepted twice.
        """
        key = _hash(state)
        with database.cursor() as conn:
            row = conn.execute(
                sa.select(oidc_logins).where(oidc_logins.c.state_hash == key)
            ).first()
            conn.execute(sa.delete(oidc_logins).where(oidc_logins.c.state_hash == key))
        if row is None or not secrets.compare_digest(row.session_hash, _hash(session_id)):
            raise OidcError("unknown or foreign state: the sign-in was not started by this browser")
        if self._clock() - row.created_at > PENDING_FOR:
            raise OidcError("the sign-in took longer than 10 minutes: start again")
        metadata = self._discovery()
        try:
            response = self._http.post(
                metadata["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.settings.redirect_url,
                    "code_verifier": row.code_verifier,
                },
                auth=(self.settings.client_id, self.settings.client_secret),
            )
        except httpx.HTTPError as error:
            raise OidcError(f"token endpoint: {error}") from error
        if response.status_code != 200:
            raise OidcError(f"token endpoint refused the code: {response.status_code}")
        tokens = response.json()
        claims = self.verify_id_token(str(tokens.get("id_token", "")), nonce=row.nonce)
        userinfo = self._get_json(
            metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens.get('access_token', '')}"},
        )
        if userinfo.get("sub") != claims["sub"]:
            raise OidcError("userinfo is about another subject than the ID token")
        return self.identity({**claims, **userinfo}), str(row.next_path)

    def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """Signature, issuer, audience, expiry and nonce: all required, all checked."""
        try:
            try:
                token = jwt.decode(id_token, self._key_set(), algorithms=list(ALGORITHMS))
            except JoseError:
                # A key the provider rotated in since we cached its set: fetch once more.
                token = jwt.decode(
                    id_token, self._key_set(refresh=True), algorithms=list(ALGORITHMS)
                )
            registry = jwt.JWTClaimsRegistry(
                now=lambda: int(time.time()),
                leeway=LEEWAY_S,
                iss={"essential": True, "value": self.settings.issuer},
                aud={"essential": True, "value": self.settings.client_id},
                exp={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(token.claims)
        except (JoseError, ValueError) as error:
            raise OidcError(f"ID token refused: {type(error).__name__}: {error}") from error
        audiences = token.claims["aud"]
        several = isinstance(audiences, list) and len(audiences) > 1
        if several and token.claims.get("azp") != self.settings.client_id:
            raise OidcError("ID token refused: several audiences and azp is not this portal")
        return dict(token.claims)

    def identity(self, claims: dict[str, Any]) -> OidcIdentity:
        """Username and role from the claims; no mapped group, no access."""
        username = str(claims.get(self.settings.username_claim) or "").strip().lower()
        if not username:
            raise OidcError(f"the provider sent no {self.settings.username_claim!r} claim")
        groups = claims.get(self.settings.groups_claim) or []
        groups = [groups] if isinstance(groups, str) else [str(g) for g in groups]
        role = next((r for g, r in self.settings.role_groups if g in groups), None)
        if role is None:
            raise OidcNoRoleError(f"{username}: none of the account's groups maps to a portal role")
        worker = claims.get(self.settings.worker_claim)
        team = claims.get(self.settings.team_claim)
        return OidcIdentity(
            username=username[:64],
            display_name=str(claims.get("name") or username)[:200],
            role=role,
            worker_id=None if worker is None else str(worker),
            team=None if team is None else str(team),
        )
