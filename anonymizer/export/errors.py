"""Export failures whose messages are safe to show (no tokens, no keys, no data) and the server's reasons."""

from __future__ import annotations

import requests

from anonymizer.errors import AnonymizerError


class ExportError(AnonymizerError, RuntimeError):
    """The export failed; the message is safe to show (no tokens, no data)."""


class AuthError(ExportError):
    """No bearer token: the key cannot be used or the token endpoint refused (with its reason)."""


class JobFailedError(ExportError):
    """The server ended the export job with an error: there is nothing to resume."""


class ExportExpiredError(ExportError):
    """The server no longer knows the export (status URL or files gone): it must be started over."""


def response_reason(response: requests.Response, limit: int = 300) -> str:
    """The server's own words for a refusal: OAuth ``error``/``error_description``, OperationOutcome diagnostics,
    or the first line of a plain-text body; ``"no details"`` when it gave none."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip() if "text/plain" in response.headers.get("Content-Type", "") else ""
        return text.splitlines()[0][:limit] if text else "no details"
    if not isinstance(body, dict):
        return "no details"
    if "error" in body and isinstance(body["error"], str):
        description = body.get("error_description")
        return f"{body['error']}: {description}"[:limit] if description else body["error"][:limit]
    return outcome_text(body, limit) or "no details"


def outcome_text(outcome: object, limit: int = 300) -> str:
    """The diagnostics (or details text, or code) of an OperationOutcome's issues, joined with ``; ``."""
    issues = outcome.get("issue", []) if isinstance(outcome, dict) else []
    texts = []
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details")
        if not isinstance(details, dict):
            details = {}
        text = issue.get("diagnostics") or details.get("text") or issue.get("code")
        if text:
            texts.append(str(text))
    return "; ".join(texts)[:limit]
