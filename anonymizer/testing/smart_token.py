"""The test server's SMART Backend Services token endpoint: verifies a client assertion like a strict server."""

from __future__ import annotations

from anonymizer.errors import AnonymizerError
from anonymizer.testing.server_config import ServerConfig


class AssertionRefused(AnonymizerError):
    """The assertion is refused; the message is the OAuth ``error_description``."""


def verify_assertion(assertion: str, config: ServerConfig, audience: str) -> dict[str, object]:
    """The claims of a valid assertion, or :class:`AssertionRefused` with the reason a strict server gives."""
    import jwt

    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise AssertionRefused("Invalid JWT token") from None
    algorithm = header.get("alg")
    if algorithm not in ("RS384", "ES384"):
        raise AssertionRefused(f"Invalid JWT token header. Unsupported 'alg' {algorithm}")
    kid = header.get("kid")
    if config.require_kid and not kid:
        raise AssertionRefused("Invalid JWT token header. Missing 'kid' property")
    if config.allowed_jku is not None and header.get("jku") not in (None, config.allowed_jku):
        raise AssertionRefused("The jku header is not a registered JWKS URL")
    if kid and kid in config.client_keys:
        key = config.client_keys[kid]
    elif config.client_keys and kid:
        raise AssertionRefused(f"No public key found with kid {kid}")
    elif config.jwks_public_key_pem is not None:
        key = config.jwks_public_key_pem
    else:
        raise AssertionRefused("No public key registered for this client")
    try:
        claims = jwt.decode(assertion, key, algorithms=[algorithm], audience=audience)
    except jwt.PyJWTError as exc:
        raise AssertionRefused(f"Invalid token: {type(exc).__name__}") from None
    if claims.get("iss") != config.client_id or claims.get("sub") != config.client_id:
        raise AssertionRefused("iss and sub must be the client id")
    return claims
