"""``fhir-anonymizer export``: FHIR Bulk Data $export into a landing folder or Blob/ADLS container."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from anonymizer.cli.errors import CliError, UsageError

if TYPE_CHECKING:
    from anonymizer.export.auth import TokenProvider
    from anonymizer.export.client import ExportRequest
    from anonymizer.storage.landing import LandingTarget


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export",
        help="run a FHIR Bulk Data $export and land the NDJSON",
        description="Kick off a Bulk Data $export (system, Patient or Group level), poll it (Retry-After, back-off, "
        "429/5xx retries, X-Progress), and stream every file into the landing zone with line counts verified "
        "against the manifest. Re-running the same command continues an interrupted export (Ctrl-C or a failure "
        "during downloads) and downloads only the missing files. Ctrl-C while the server is still working cancels "
        "the server job (DELETE). Exits non-zero when the server reported error files, unless --allow-partial.",
    )
    parser.add_argument("--fhir-url", required=True, help="FHIR base URL")
    level = parser.add_mutually_exclusive_group()
    level.add_argument("--group", default=None, metavar="ID", help="Group-level export of this Group id")
    level.add_argument("--patient-level", action="store_true", help="Patient-level export (all patients)")
    parser.add_argument(
        "--type", action="append", default=[], metavar="TYPE", help="_type (repeatable or comma-separated)"
    )
    parser.add_argument(
        "--since",
        default=None,
        help="_since instant, or 'auto' for the transactionTime of the last complete export landed here with the "
        "same server, level, group and types",
    )
    parser.add_argument(
        "--type-filter", action="append", default=[], metavar="QUERY", help="_typeFilter (repeatable)"
    )
    parser.add_argument(
        "--landing", required=True, help="local folder, or az://<container>/<prefix> for Blob/ADLS"
    )
    parser.add_argument(
        "--storage-connection-string",
        default=None,
        help="key reference (env:NAME, file:PATH) of a storage connection string",
    )
    parser.add_argument(
        "--azure", action="store_true", help="Azure FHIR service: send only parameters it accepts"
    )
    parser.add_argument(
        "--container",
        default=None,
        help="Azure _container: the service writes the files into this container itself",
    )
    parser.add_argument("--post", action="store_true", help="kick off with POST and a Parameters body")
    parser.add_argument(
        "--allow-partial-manifests",
        action="store_true",
        help="Bulk Data 2.0 allowPartialManifests: the server may page the manifest (pages are merged)",
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="exit 0 even when the server reported error files for some types (they land under error/)",
    )
    parser.add_argument(
        "--auth", choices=("none", "smart", "azure"), default="none", help="how to get a bearer token"
    )
    parser.add_argument("--client-id", default=None, help="SMART client id")
    parser.add_argument(
        "--private-key",
        default=None,
        help="SMART private key reference (env:NAME or file:PATH): PEM, a private JWK or a JWKS",
    )
    parser.add_argument(
        "--key-id",
        default=None,
        help="SMART kid of the key (default: the JWK's kid; selects the key in a JWKS)",
    )
    parser.add_argument(
        "--token-url",
        default=None,
        help="SMART token endpoint (default: from .well-known/smart-configuration)",
    )
    parser.add_argument(
        "--algorithm",
        choices=("RS384", "ES384"),
        default=None,
        help="SMART assertion algorithm (default: from the key: RSA -> RS384, EC P-384 -> ES384)",
    )
    parser.add_argument("--jku", default=None, help="SMART: URL of the client's JWKS, sent as the jku header")
    parser.add_argument("--scope", default="system/*.read", help="SMART scope (default system/*.read)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    """Run the export and print what landed."""
    from anonymizer.export.runner import partial_export_message, run_export

    request = request_from_args(args)
    landing = landing_from_args(args)
    result = run_export(
        request, landing, auth=auth_from_args(args), progress=lambda m: print(m, file=sys.stderr)
    )
    print(
        f"export {result.export_id}: {sum(result.counts.values())} resources in {len(result.files)} files "
        f"({result.downloaded} downloaded by this run{', resumed' if result.resumed else ''}), {result.seconds:.1f}s"
    )
    print(f"landed in {result.folder} (transactionTime {result.transaction_time})")
    if result.errors:
        message = partial_export_message(result)
        if not args.allow_partial:
            raise CliError(message + " (--allow-partial accepts a partial export)")
        print(f"partial export: {message}", file=sys.stderr)


def request_from_args(args: argparse.Namespace) -> ExportRequest:
    """The ExportRequest the options describe."""
    from anonymizer.export.client import ExportRequest

    types = tuple(t for value in args.type for t in value.split(",") if t)
    level = "group" if args.group else "patient" if args.patient_level else "system"
    if args.container and not args.azure:
        raise UsageError("--container is an Azure FHIR service feature: add --azure")
    if args.allow_partial_manifests and args.azure:
        raise UsageError("the Azure FHIR service does not accept allowPartialManifests")
    return ExportRequest(
        fhir_url=args.fhir_url, level=level, group_id=args.group, types=types, since=args.since,
        type_filters=tuple(args.type_filter), container=args.container, use_post=args.post, azure=args.azure,
        allow_partial_manifests=args.allow_partial_manifests,
    )  # fmt: skip


def landing_from_args(args: argparse.Namespace) -> LandingTarget:
    """The landing target (local folder or Blob/ADLS)."""
    from anonymizer.secrets import resolve_secret
    from anonymizer.storage.landing import landing_from_url

    connection = (
        resolve_secret(args.storage_connection_string).value if args.storage_connection_string else None
    )
    try:
        return landing_from_url(args.landing, connection_string=connection)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def auth_from_args(args: argparse.Namespace) -> TokenProvider | None:
    """The token provider the options ask for."""
    from anonymizer.export.auth import AzureAdAuth, SmartBackendAuth, discover_token_url
    from anonymizer.secrets import resolve_secret

    if args.auth == "azure":
        return AzureAdAuth(args.fhir_url)
    if args.auth != "smart":
        if args.client_id or args.private_key or args.key_id:
            raise UsageError("--client-id, --private-key and --key-id need --auth smart")
        return None
    if not (args.client_id and args.private_key):
        raise UsageError("--auth smart needs --client-id and --private-key")
    token_url = args.token_url or discover_token_url(args.fhir_url)
    return SmartBackendAuth(
        token_url, args.client_id, resolve_secret(args.private_key).value, algorithm=args.algorithm,
        key_id=args.key_id, jku=args.jku, scope=args.scope,
    )  # fmt: skip
