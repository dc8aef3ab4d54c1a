"""Bearer tokens for the FHIR server: SMART Backend Services (signed JWT assertion) or Azure AD (azure-identity).

Tokens, private keys and client assertions are never logged; ``repr`` of a provider shows no secret.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from anonymizer.export.errors import AuthError, response_reason

log = logging.getLogger("anonymizer.export.auth")
SMART_ALGORITHMS = ("RS384", "ES384")


class TokenProvider(Protocol):
    """Something that returns a valid bearer token, refreshing it when needed."""

    def token(self) -> str:
        """A bearer token valid for at least a minute."""

    def invalidate(self) -> None:
        """Forget the cached token (after a 401)."""


@dataclass(frozen=True, repr=False)
class SigningKey:
    """A private key ready to sign client assertions, with the ``kid`` and algorithm it is registered under."""

    key: Any
    algorithm: str
    key_id: str | None

    def __repr__(self) -> str:
        return f"SigningKey(algorithm={self.algorithm!r}, key_id={self.key_id!r})"


def load_signing_key(text: str, *, key_id: str | None = None, algorithm: str | None = None) -> SigningKey:
    """A PEM private key, a private JWK or a JWKS holding private keys.

    The ``kid`` comes from ``key_id`` or else from the JWK; in a JWKS ``key_id`` (and ``algorithm``) select the key.
    The algorithm comes from ``algorithm``, the JWK's ``alg``, or the key type (RSA -> RS384, EC P-384 -> ES384).
    """
    if algorithm is not None and algorithm not in SMART_ALGORITHMS:
        raise AuthError("SMART Backend Services requires RS384 or ES384")
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise AuthError("the private key is neither PEM nor valid JWK/JWKS JSON") from None
        jwk = _select_jwk(document, key_id, algorithm) if "keys" in document else document
        return _from_jwk(jwk, key_id, algorithm)
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise AuthError("the private key cannot be read (expected an unencrypted PEM private key)") from None
    return SigningKey(key, _check_algorithm(key, algorithm), key_id)


def _select_jwk(jwks: dict[str, Any], key_id: str | None, algorithm: str | None) -> dict[str, Any]:
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict) and "d" in k]
    if key_id:
        keys = [k for k in keys if k.get("kid") == key_id]
    if algorithm:
        keys = [k for k in keys if k.get("alg", algorithm) == algorithm]
    if len(keys) != 1:
        kids = sorted(str(k.get("kid")) for k in jwks.get("keys", []) if isinstance(k, dict))
        what = "no private key" if not keys else "several private keys"
        raise AuthError(
            f"the JWKS holds {what} matching --key-id/--algorithm (kids: {', '.join(kids) or 'none'})"
        )
    return keys[0]


def _from_jwk(jwk: dict[str, Any], key_id: str | None, algorithm: str | None) -> SigningKey:
    import jwt

    if "d" not in jwk:
        raise AuthError("the JWK is a public key: SMART client assertions need the private key")
    if key_id and jwk.get("kid") and jwk["kid"] != key_id:
        raise AuthError(f"--key-id {key_id} differs from the JWK's kid {jwk['kid']}")
    if algorithm and jwk.get("alg") and jwk["alg"] != algorithm:
        raise AuthError(f"the JWK is for {jwk['alg']}, not {algorithm}")
    wanted = algorithm or jwk.get("alg") or {"RSA": "RS384", "EC": "ES384"}.get(str(jwk.get("kty")))
    if wanted not in SMART_ALGORITHMS:
        raise AuthError(f"the JWK's algorithm {wanted} is not RS384 or ES384")
    try:
        key = jwt.PyJWK(jwk, wanted).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise AuthError(f"the JWK cannot be used for {wanted}") from None
    return SigningKey(key, _check_algorithm(key, wanted), key_id or jwk.get("kid"))


def _check_algorithm(key: Any, algorithm: str | None) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        natural = "RS384"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        natural = "ES384"
    else:
        raise AuthError("SMART Backend Services needs an RSA key (RS384) or an EC P-384 key (ES384)")
    if algorithm and algorithm != natural:
        raise AuthError(f"the private key is for {natural}, not {algorithm}")
    return natural


class SmartBackendAuth:
    """SMART Backend Services: client-credentials grant with a JWT client assertion (RS384 or ES384)."""

    def __init__(self, token_url: str, client_id: str, private_key: str | SigningKey, *, algorithm: str | None = None,
                 scope: str = "system/*.read", key_id: str | None = None, jku: str | None = None,
                 session: requests.Session | None = None) -> None:  # fmt: skip
        signing = (
            private_key
            if isinstance(private_key, SigningKey)
            else load_signing_key(private_key, key_id=key_id, algorithm=algorithm)
        )
        self.token_url, self.client_id, self.scope, self.jku = token_url, client_id, scope, jku
        self.algorithm, self.key_id = signing.algorithm, signing.key_id
        self._key = signing.key
        self._session = session or requests.Session()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"SmartBackendAuth(client_id={self.client_id!r}, token_url={self.token_url!r}, kid={self.key_id!r})"

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
        headers = {"typ": "JWT"}
        if self.key_id:
            headers["kid"] = self.key_id
        if self.jku:
            headers["jku"] = self.jku
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    def token(self) -> str:
        if self._token and time.time() < self._expires_at - 60:
            return self._token
        log.debug(
            "token request to %s (client_id %s, kid %s, %s, scope %s)",
            self.token_url, self.client_id, self.key_id, self.algorithm, self.scope,
        )  # fmt: skip
        try:
            response = self._session.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "scope": self.scope,
                    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": self._assertion(),
                },
                headers={"Accept": "application/json"},
                timeout=30,
            )
        except requests.RequestException as exc:
            raise AuthError(f"token endpoint {self.token_url} unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise AuthError(
                f"token endpoint refused the client assertion (HTTP {response.status_code}): "
                f"{response_reason(response)}"
            )
        try:
            body = response.json()
            self._token = str(body["access_token"])
            self._expires_at = time.time() + float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise AuthError("token endpoint answered 200 without an access_token") from None
        log.debug("token received (expires in %ss)", body.get("expires_in", 300))
        return self._token

    def invalidate(self) -> None:
        self._token = None


def discover_token_url(fhir_url: str, session: requests.Session | None = None) -> str:
    """The ``token_endpoint`` of ``<fhir>/.well-known/smart-configuration``."""
    url = f"{fhir_url.rstrip('/')}/.well-known/smart-configuration"
    try:
        response = (session or requests.Session()).get(
            url, headers={"Accept": "application/json"}, timeout=30
        )
        endpoint = response.json().get("token_endpoint") if response.status_code == 200 else None
    except (requests.RequestException, ValueError, AttributeError):
        endpoint = None
    if not endpoint:
        raise AuthError(f"no token_endpoint in {url}: give --token-url")
    return str(endpoint)


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
        self._token: Any = None  # azure.core.credentials.AccessToken (azure-identity is optional)

    def __repr__(self) -> str:
        return f"AzureAdAuth(scope={self.scope!r})"

    def token(self) -> str:
        token = self._token
        if token is None or token.expires_on - 60 < time.time():
            try:
                token = self._token = self._credential.get_token(self.scope)  # type: ignore[attr-defined]
            except Exception as exc:  # azure-identity raises several types; its message is the reason
                reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else "no details"
                raise AuthError(f"Azure AD gave no token for {self.scope}: {reason}") from None
        return str(token.token)

    def invalidate(self) -> None:
        self._token = None
