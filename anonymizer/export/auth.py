"""Bearer tokens for the FHIR server: SMART Backend Services (signed JWT assertion) or Azure AD (azure-identity).

Tokens and assertions are never logged; ``repr`` of a provider shows no secret.
"""

from __future__ import annotations

import time
import uuid
from typing import Protocol

import requests


class TokenProvider(Protocol):
    """Something that returns a valid bearer token, refreshing it when needed."""

    def token(self) -> str:
        """A bearer token valid for at least a minute."""

    def invalidate(self) -> None:
        """Forget the cached token (after a 401)."""


class SmartBackendAuth:
    """SMART Backend Services: client-credentials grant with a JWT client assertion (RS384 or ES384)."""

    def __init__(self, token_url: str, client_id: str, private_key_pem: str, *, algorithm: str = "RS384",
                 scope: str = "system/*.read", key_id: str | None = None, session: requests.Session | None = None) -> None:  # fmt: skip
        if algorithm not in ("RS384", "ES384"):
            raise ValueError("SMART Backend Services requires RS384 or ES384")
        self.token_url, self.client_id, self.algorithm, self.scope, self.key_id = (
            token_url,
            client_id,
            algorithm,
            scope,
            key_id,
        )
        self._key = private_key_pem
        self._session = session or requests.Session()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"SmartBackendAuth(client_id={self.client_id!r}, token_url={self.token_url!r})"

    def _assertion(self) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    def token(self) -> str:
        if self._token and time.time() < self._expires_at - 60:
            return self._token
        response = self._session.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "scope": self.scope,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self._assertion(),
            },
            timeout=30,
        )
        if response.status_code != 200:
            raise PermissionError(
                f"token endpoint refused the client assertion (HTTP {response.status_code})"
            )
        body = response.json()
        self._token = body["access_token"]
        self._expires_at = time.time() + float(body.get("expires_in", 300))
        return self._token

    def invalidate(self) -> None:
        self._token = None


class AzureAdAuth:
    """Azure AD token for the FHIR service via azure-identity (scope ``<fhir-url>/.default``)."""

    def __init__(self, fhir_url: str, credential: object | None = None) -> None:
        from urllib.parse import urlparse

        parsed = urlparse(fhir_url)
        self.scope = f"{parsed.scheme}://{parsed.netloc}/.default"
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self._credential = credential
        self._token: object | None = None

    def __repr__(self) -> str:
        return f"AzureAdAuth(scope={self.scope!r})"

    def token(self) -> str:
        token = self._token
        if token is None or token.expires_on - 60 < time.time():  # type: ignore[attr-defined]
            token = self._token = self._credential.get_token(self.scope)  # type: ignore[attr-defined]
        return token.token  # type: ignore[attr-defined]

    def invalidate(self) -> None:
        self._token = None
