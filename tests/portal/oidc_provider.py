"""A small OpenID Connect provider for the sign-in tests, served over real HTTP on loopback.

It speaks the protocol a council provider (Entra ID) speaks to the portal: discovery, the
authorisation endpoint (code flow, PKCE S256 required), the token endpoint (client secret,
code verifier checked), userinfo and the signing keys (RS256). Tests bend one thing at a time
(``audience``, ``lifetime_s``, ``claims``) to see the portal refuse.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Header, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "safeguard-portal"
CLIENT_SECRET = "synthetic-client-secret-for-tests"
REDIRECT_URL = "https://testserver/login/oidc/callback"


@dataclass
class Provider:
    """Provider state; ``issuer`` is set once the server is listening."""

    issuer: str = ""
    audience: str = CLIENT_ID
    lifetime_s: int = 300
    claims: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "entra-0001",
            "preferred_username": "Pat.Social@council.example",
            "name": "Pat Social (synthetic)",
            "groups": ["sg-practitioners", "all-staff"],
            "employee_id": "W01",
            "department": "North",
        }
    )
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
    )
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    access_tokens: dict[str, str] = field(default_factory=dict)
    verified_pkce: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return KeySet([self.key]).as_dict(private=False)

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            if q.get("client_id") != CLIENT_ID or q.get("redirect_uri") != REDIRECT_URL:
                raise HTTPException(400, "unknown client or redirect_uri")
            if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
                raise HTTPException(400, "authorisation code with PKCE S256 required")
            if "openid" not in (q.get("scope") or "").split():
                raise HTTPException(400, "openid scope required")
            code = secrets.token_urlsafe(24)
            self.codes[code] = {
                "challenge": q["code_challenge"],
                "nonce": q.get("nonce", ""),
                "redirect_uri": q["redirect_uri"],
            }
            query = urlencode({"code": code, "state": q.get("state", "")})
            return RedirectResponse(f"{q['redirect_uri']}?{query}", status_code=302)

        @app.post("/token")
        def token(
            grant_type: str = Form(""),
            code: str = Form(""),
            redirect_uri: str = Form(""),
            code_verifier: str = Form(""),
            authorization: str = Header(""),
        ) -> JSONResponse:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if authorization != f"Basic {expected}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            pending = self.codes.pop(code, None)  # a code is used once
            if grant_type != "authorization_code" or pending is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != pending["challenge"] or redirect_uri != pending["redirect_uri"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self.verified_pkce += 1
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "sub": self.claims["sub"],
                "aud": self.audience,
                "iat": now,
                "exp": now + self.lifetime_s,
                "nonce": pending["nonce"],
                "name": self.claims.get("name"),
            }
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            access = secrets.token_urlsafe(24)
            self.access_tokens[access] = self.claims["sub"]
            return JSONResponse(
                {"access_token": access, "token_type": "Bearer", "id_token": id_token}
            )

        @app.get("/userinfo")
        def userinfo(authorization: str = Header("")) -> dict[str, Any]:
            access = authorization.removeprefix("Bearer ")
            if access not in self.access_tokens:
                raise HTTPException(401, "invalid token")
            return dict(self.claims)

        return app
