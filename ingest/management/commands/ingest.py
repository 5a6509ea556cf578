"""`manage.py ingest FILE... --org SLUG [--format NAME] [--json]`: load export files through the upload path.

Each file becomes an Upload and is ingested by the `ingest` queue (in-process in the embedded
mode); the command waits for each to finish. Exit status 0 only when every file landed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.management.organization import organization_for_command
from finops.models import Organization
from ingest.models import Upload
from ingest.parsers import FORMATS, IngestError
from ingest.services import upload_create

FINAL_STATUSES = {Upload.Status.SUCCEEDED, Upload.Status.FAILED, Upload.Status.DUPLICATE}


def _report(path: Path, upload: Upload | None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if upload is None:
        return {
            "file": str(path),
            "upload": None,
            "format": None,
            "status": "rejected",
            "rows_read": 0,
            "records": 0,
            "tokens": {},
            "cost": {},
            "errors": errors or [],
        }
    summary = upload.summary
    return {
        "file": str(path),
        "upload": upload.pk,
        "format": upload.format or None,
        "format_version": summary.get("format_version") or None,
        "status": upload.status,
        "duplicate_of": upload.duplicate_of_id,
        "rows_read": summary.get("rows_read", 0),
        "rows_skipped": summary.get("rows_skipped", {}),
        "records": summary.get("records", 0),
        "tokens": summary.get("tokens", {}),
        "cost": summary.get("cost", {}),
        "date_from": summary.get("date_from"),
        "date_to": summary.get("date_to"),
        "replaced": summary.get("replaced"),
        "duration_seconds": summary.get("duration_seconds"),
        "errors": upload.errors,
    }


class Command(BaseCommand):
    help = "Ingest provider export files into an organization's ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--format", choices=sorted(FORMATS), default=None, help="skip detection")
        parser.add_argument("--json", action="store_true", help="print one JSON object per file")
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for each ingest")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_for_command(options["org"])
        all_landed = True
        for path in options["files"]:
            report = self._ingest_one(path, organization, options)
            all_landed &= report["status"] in (Upload.Status.SUCCEEDED, Upload.Status.DUPLICATE)
            if options["json"]:
                self.stdout.write(json.dumps(report))
            else:
                self._print_human(report)
        if not all_landed:
            raise CommandError("some files did not land; the ledger holds none of their rows")

    def _ingest_one(self, path: Path, organization: Organization, options: dict[str, Any]) -> dict[str, Any]:
        if not path.is_file():
            return _report(path, None, [{"row": None, "column": None, "message": f"no such file: {path}"}])
        try:
            with path.open("rb") as source:
                upload = upload_create(
                    organization=organization, source=source, filename=path.name, format_name=options["format"]
                )
        except IngestError as error:
            return _report(path, None, [row_error.as_dict() for row_error in error.errors])
        deadline = time.monotonic() + options["timeout"]
        while upload.status not in FINAL_STATUSES and time.monotonic() < deadline:
            time.sleep(0.2)
            upload.refresh_from_db()
        return _report(path, upload)

    def _print_human(self, report: dict[str, Any]) -> None:
        status = report["status"]
        line = f"{report['file']}: {status}"
        if status == Upload.Status.SUCCEEDED:
            tokens = ", ".join(f"{kind} {count:,}" for kind, count in report["tokens"].items() if count)
            line += f" ({report['format']}, {report['rows_read']} rows, {report['records']} records; {tokens})"
        elif status == Upload.Status.DUPLICATE:
            line += f" (same bytes as upload #{report['duplicate_of']}; nothing changed)"
        self.stdout.write(line)
        for error in report["errors"]:
            where = ", ".join(
                part
                for part in (
                    f"row {error['row']}" if error.get("row") else "",
                    f"column {error['column']!r}" if error.get("column") else "",
                )
                if part
            )
            self.stderr.write(f"  {where + ': ' if where else ''}{error['message']}")
