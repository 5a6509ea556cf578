"""What the Anthropic formats share: usage dates, model display names, the inference geo as a region.

The formats themselves live in ``anthropic_tokens`` (token export) and ``anthropic_cost`` (cost
export); see reference/export-formats.md sections 5, 6 and 12.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ingest.parsers.base import RowError, is_null

PROVIDER = "anthropic"

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOUR = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
_DATE_EXPECTED = "expected YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC)"

# Display names whose API id keeps its dots, so the general rule below does not apply.
_IRREGULAR_MODEL_IDS = {
    "claude 2.0": "claude-2.0",
    "claude 2.1": "claude-2.1",
    "claude instant 1.2": "claude-instant-1.2",
}
# 2024 cost exports put the version first ("Claude 3.5 Sonnet 2024-10-22"), newer ones the family
# ("Claude Sonnet 4.5"); the API ids follow the same two orders.
_VERSION_FIRST = re.compile(r"claude (\d+(?:\.\d+)?) ([a-z]+)(?: (\d{4})-(\d{2})-(\d{2}))?")
_FAMILY_FIRST = re.compile(r"claude ([a-z]+) (\d+(?:\.\d+)?)(?: (\d{4})-(\d{2})-(\d{2}))?")


def parse_usage_period(
    value: str | None, *, row: int, column: str, errors: list[RowError]
) -> tuple[datetime, datetime] | None:
    """The UTC period of a ``YYYY-MM-DD`` (one day) or ``YYYY-MM-DD HH:MM`` (one hour) cell."""
    if is_null(value):
        errors.append(RowError(row=row, column=column, message=f"is empty; {_DATE_EXPECTED}"))
        return None
    assert value is not None
    text = value.strip()
    if _DAY.fullmatch(text):
        layout, width = "%Y-%m-%d", timedelta(days=1)
    elif _HOUR.fullmatch(text):
        layout, width = "%Y-%m-%d %H:%M", timedelta(hours=1)
    else:
        errors.append(RowError(row=row, column=column, message=f"{value!r} is not a date; {_DATE_EXPECTED}"))
        return None
    try:
        start = datetime.strptime(text, layout).replace(tzinfo=UTC)
    except ValueError:
        errors.append(RowError(row=row, column=column, message=f"{value!r} is not a date; {_DATE_EXPECTED}"))
        return None
    if start.minute:
        errors.append(
            RowError(
                row=row, column=column, message=f"{value!r} is not the start of an hour; expected YYYY-MM-DD HH:00"
            )
        )
        return None
    return start, start + width


def model_id_from_display_name(name: str) -> str | None:
    """The API model id for a Console display name, or None when the name has an unknown shape.

    ``Claude Sonnet 4.5`` -> ``claude-sonnet-4-5``; ``Claude 3.5 Sonnet 2024-10-22`` ->
    ``claude-3-5-sonnet-20241022``. Unknown shapes return None so they go to review instead of
    falling back to a similar model.
    """
    key = " ".join(name.lower().split())
    if key in _IRREGULAR_MODEL_IDS:
        return _IRREGULAR_MODEL_IDS[key]
    version_first = _VERSION_FIRST.fullmatch(key)
    family_first = _FAMILY_FIRST.fullmatch(key)
    if version_first:
        version, family, *date = version_first.groups()
        parts = ["claude", version.replace(".", "-"), family]
    elif family_first:
        family, version, *date = family_first.groups()
        parts = ["claude", family, version.replace(".", "-")]
    else:
        return None
    if date[0]:
        parts.append("".join(part for part in date if part))
    return "-".join(parts)


def region_from_geo(geo: str) -> str:
    """The region of an ``inference_geo`` value (``global``, ``us``); "" for ``not_available``."""
    return "" if geo.lower() == "not_available" else geo
