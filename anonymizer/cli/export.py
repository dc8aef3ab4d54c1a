"""``fhir-anonymizer export``: FHIR Bulk Data $export into a landing folder or Blob/ADLS container."""

from __future__ import annotations

import argparse
import sys

from anonymizer.cli.errors import CliError, UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export",
        help="run a FHIR Bulk Data $export and land the NDJSON",
        description="Kick off a Bulk Data $export (system, Patient or Group level), poll it (Retry-After, back-off, "
        "429/5xx retries, X-Progress), and stream every file into the landing zone with line counts verified "
        "against the manifest. Re-running the same export finishes an interrupted one without downloading twice. "
        "Ctrl-C cancels the server job (DELETE).",
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
        help="_since instant, or 'auto' for the transactionTime of the last export landed here",
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
        "--auth", choices=("none", "smart", "azure"), default="none", help="how to get a bearer token"
    )
    parser.add_argument("--client-id", default=None, help="SMART client id")
    parser.add_argument(
        "--private-key", default=None, help="SMART private key reference (env:NAME or file:PATH; PEM)"
    )
    parser.add_argument("--token-url", default=None, help="SMART token endpoint")
    parser.add_argument(
        "--algorithm", choices=("RS384", "ES384"), default="RS384", help="SMART assertion algorithm"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    """Run the export and print what landed."""
    from anonymizer.export.client import ExportError, run_export

    request = request_from_args(args)
    landing = landing_from_args(args)
    try:
        result = run_export(
            request, landing, auth=auth_from_args(args), progress=lambda m: print(m, file=sys.stderr)
        )
    except ExportError as exc:
        raise CliError(str(exc)) from None
    print(
        f"export {result.export_id}: {sum(result.counts.values())} resources in {len(result.files)} files, {result.seconds:.1f}s"
    )
    print(f"landed in {result.folder} (transactionTime {result.transaction_time})")


def request_from_args(args: argparse.Namespace) -> object:
    """The ExportRequest the options describe."""
    from anonymizer.export.client import ExportRequest

    types = tuple(t for value in args.type for t in value.split(",") if t)
    level = "group" if args.group else "patient" if args.patient_level else "system"
    if args.container and not args.azure:
        raise UsageError("--container is an Azure FHIR service feature: add --azure")
    return ExportRequest(
        fhir_url=args.fhir_url, level=level, group_id=args.group, types=types, since=args.since,
        type_filters=tuple(args.type_filter), container=args.container, use_post=args.post, azure=args.azure,
    )  # fmt: skip


def landing_from_args(args: argparse.Namespace) -> object:
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


def auth_from_args(args: argparse.Namespace) -> object | None:
    """The token provider the options ask for."""
    from anonymizer.export.auth import AzureAdAuth, SmartBackendAuth
    from anonymizer.secrets import resolve_secret

    if args.auth == "azure":
        return AzureAdAuth(args.fhir_url)
    if args.auth == "smart":
        if not (args.client_id and args.private_key and args.token_url):
            raise UsageError("--auth smart needs --client-id, --private-key and --token-url")
        return SmartBackendAuth(
            args.token_url, args.client_id, resolve_secret(args.private_key).value, algorithm=args.algorithm
        )
    return None
