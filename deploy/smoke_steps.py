"""The HTTP steps of ``deploy/smoke.sh``: what a user of a fresh deployment does over the API, with the standard library
only (the deployment image has no test tools).

Each step is a sub-command that prints what it did and exits non-zero with a message when the answer is not the one
expected::

    smoke_steps.py BASE_URL TOKEN upload FILE...         POST each file to /api/v1/uploads/, wait until it lands
    smoke_steps.py BASE_URL TOKEN forecast               POST /api/v1/forecasts/, wait until it succeeds
    smoke_steps.py BASE_URL TOKEN budget OWNER_EMAIL     POST /api/v1/budgets/ for this month, owned by OWNER_EMAIL
    smoke_steps.py BASE_URL TOKEN read                   GET usage, the latest forecast, budget status, recommendations
    smoke_steps.py BASE_URL -     probes                 GET /healthz and /readyz
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import date
from pathlib import Path
from typing import Any

TIMEOUT_SECONDS = 30
UPLOAD_WAIT_SECONDS = 180
FORECAST_WAIT_SECONDS = 600


class StepFailed(Exception):
    pass


def _call(base: str, token: str, method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
    request = urllib.request.Request(base + path, data=body, method=method)
    if token != "-":
        request.add_header("Authorization", f"Token {token}")
    request.add_header("Accept", "application/json")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            text = response.read().decode()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        raise StepFailed(f"{method} {path} answered {error.code}: {error.read().decode()[:800]}") from error


def _post_json(base: str, token: str, path: str, payload: dict[str, Any]) -> Any:
    return _call(base, token, "POST", path, json.dumps(payload).encode(), Content_Type="application/json")


def _multipart(path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            path.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _wait(base: str, token: str, path: str, final: set[str], seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = _call(base, token, "GET", path)
        if body.get("status") in final:
            return body
        time.sleep(1)
    raise StepFailed(f"{path} did not reach {sorted(final)} within {seconds:.0f}s; last answer: {body}")


def upload(base: str, token: str, files: list[str]) -> None:
    for name in files:
        body, content_type = _multipart(Path(name))
        queued = _call(base, token, "POST", "/api/v1/uploads/", body, Content_Type=content_type)
        done = _wait(base, token, f"/api/v1/uploads/{queued['id']}/", {"succeeded", "failed", "duplicate"}, 180)
        if done["status"] != "succeeded":
            raise StepFailed(f"upload of {Path(name).name} ended {done['status']}: {done.get('errors') or done}")
        summary = done.get("summary") or {}
        if not summary.get("records"):
            raise StepFailed(f"upload of {Path(name).name} wrote no ledger records: {summary}")
        print(
            f"  {Path(name).name}: {summary.get('format_label', done['format'])}, {summary['records']:,} ledger "
            f"records, {sum((summary.get('tokens') or {}).values()):,} tokens, {summary.get('date_from')} to "
            f"{summary.get('date_to')}",
            flush=True,
        )


def forecast(base: str, token: str) -> None:
    queued = _post_json(base, token, "/api/v1/forecasts/", {"horizon_days": 90})
    started = time.monotonic()
    run = _wait(base, token, f"/api/v1/forecasts/{queued['id']}/", {"succeeded", "failed"}, FORECAST_WAIT_SECONDS)
    if run["status"] != "succeeded":
        raise StepFailed(f"forecast run #{run['id']} failed: {run.get('error') or run}")
    print(
        f"  run #{run['id']} succeeded in {time.monotonic() - started:.0f}s: "
        f"{run.get('series_total', '?')} series, model {run.get('model_name', '?')}",
        flush=True,
    )


def budget(base: str, token: str, owner: str) -> None:
    month = date.today().replace(day=1).isoformat()
    created = _post_json(
        base,
        token,
        "/api/v1/budgets/",
        {"name": "Smoke monthly", "starts_on": month, "amount": "1000", "owners": [owner]},
    )
    print(f"  budget #{created['id']} from {month}, owned by {owner}", flush=True)


def read(base: str, token: str) -> None:
    usage = _call(base, token, "GET", "/api/v1/usage/summary/?by=provider")
    providers = {row["provider"]: row["tokens"] for row in usage["results"]}
    print(f"  usage by provider ({usage['currency']}): {providers}", flush=True)
    latest = _call(base, token, "GET", "/api/v1/forecasts/latest/")
    levels = {level: len(keys) for level, keys in (latest.get("levels") or {}).items()}
    print(
        f"  latest forecast: run #{latest['id']}, {len(latest['monthly'])} months of the organization, "
        f"{len(latest['points'])} daily points, levels {levels}",
        flush=True,
    )
    budgets = _call(base, token, "GET", "/api/v1/budgets/")["results"]
    if not budgets:
        raise StepFailed("no budget listed")
    status = _call(base, token, "GET", f"/api/v1/budgets/{budgets[0]['id']}/status/")
    print(
        f"  budget #{budgets[0]['id']}: actual {status.get('actual')} of {status.get('amount')} "
        f"{status.get('currency')}, forecast {status.get('forecast')}",
        flush=True,
    )
    recommendations = _call(base, token, "GET", "/api/v1/recommendations/")
    print(f"  recommendations: {recommendations['count']}", flush=True)
    if len(providers) < 2:
        raise StepFailed(f"usage holds {len(providers)} provider(s); expected every uploaded provider")


def probes(base: str) -> None:
    alive = _call(base, "-", "GET", "/healthz")
    ready = _call(base, "-", "GET", "/readyz")
    print(f"  /healthz {alive}; /readyz {ready}", flush=True)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, token, step, *rest = argv
    try:
        if step == "upload":
            upload(base, token, rest)
        elif step == "forecast":
            forecast(base, token)
        elif step == "budget":
            budget(base, token, rest[0])
        elif step == "read":
            read(base, token)
        elif step == "probes":
            probes(base)
        else:
            raise StepFailed(f"unknown step {step!r}")
    except (StepFailed, OSError, KeyError, ValueError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
