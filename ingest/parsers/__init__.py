"""Export parsers: detect a file's format from its header and stream canonical records.

Pure Python (no Django). Each CSV format module exposes NAME, LABEL, SIGNATURE (the normalized
header columns that must all be present) and ``parse(text, stats) -> Iterator[CanonicalRecord]``.
A JSON format module (API responses saved to a file) sets ``KIND = "json"`` and exposes NAME,
LABEL, ``matches(document) -> bool`` and ``parse_document(document, stats)``; documents are loaded
with ``parse_float=Decimal`` so money never passes through a float.

A JSON document is checked before json.loads sees it: its nesting depth by a scan that does not recurse,
then its encoding; while loading, numbers out of range, NaN and Infinity, and repeated keys are refused.
Each refusal names the line and column. In the web process, ``detect_upload_format`` reads at most
DETECT_MAX_BYTES of an export (a CSV header line at most CSV_HEADER_MAX_BYTES).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import IO, NoReturn, TextIO, cast

from ingest.parsers import (
    anthropic_api,
    anthropic_cost,
    anthropic_tokens,
    aws_cur2,
    aws_cur_legacy,
    azure,
    focus,
    gcp_bigquery,
    gcp_console,
    openai,
    openai_api,
    openai_cost,
)
from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    header_of,
    normalize_header_name,
    text_stream,
)
from ingest.parsers.containers import DEFAULT_MAX_EXPANDED_BYTES, ExportMember, export_members

# Detection order follows reference/export-formats.md section 1: the first format whose signature
# columns are all present in the header wins.
FORMATS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        focus,
        aws_cur2,
        aws_cur_legacy,
        azure,
        gcp_bigquery,
        gcp_console,
        openai,
        openai_cost,
        anthropic_tokens,
        anthropic_cost,
        openai_api,
        anthropic_api,
    )
}

__all__ = [
    "DETECT_MAX_BYTES",
    "FORMATS",
    "CanonicalRecord",
    "IngestError",
    "ParseStats",
    "RowError",
    "detect_format",
    "detect_upload_format",
    "parse_export",
]


def _unknown_header_error(header: list[str]) -> IngestError:
    columns = {normalize_header_name(name) for name in header}
    csv_formats = [module for module in FORMATS.values() if not _is_json(module)]
    # Closest: most signature columns present, then fewest missing.
    ranked = sorted(csv_formats, key=lambda module: (-len(module.SIGNATURE & columns), len(module.SIGNATURE - columns)))
    closest = "; ".join(
        f"{module.LABEL} ({module.NAME}) misses {', '.join(sorted(module.SIGNATURE - columns))}"
        for module in ranked[:2]
    )
    message = f"the header matches no known export format. Closest: {closest}"
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        message = (
            "the header has a single column; the file seems to use another delimiter than a comma "
            f"({header[0][:80]!r}). Expected a comma-separated export. " + message
        )
    return IngestError([RowError(row=1, message=message)])


JSON_MAX_BYTES = 256 * 1024 * 1024
# API responses nest fewer than 10 levels. A deeper document is refused by a scan that does not recurse, before
# json.loads (which recurses once per level) sees it.
JSON_MAX_DEPTH = 64
# A JSON number is below 10^30 and written in at most 40 characters; anything else is damage, and turning it
# into an int could take all the memory there is.
JSON_NUMBER_MAX_DIGITS = 30
JSON_NUMBER_MAX_CHARS = 40
# The most of one export that detection reads in the web process (``detect_upload_format``). A JSON document up
# to this size is parsed there (parsed, it takes about twice its size); a larger one is checked on these first
# bytes only, and the worker detects its format when it ingests it.
DETECT_MAX_BYTES = 1024 * 1024
JSON_EXPECTED = "expected one whole JSON document as the API returned it"
# What the nesting scan looks at: a string (escapes skipped; it may be cut off by the end of the bytes) or a
# bracket. Quotes, backslashes and brackets are ASCII, never part of a multi-byte UTF-8 character.
_NESTING_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
# Every token of a document's text, to find a value the loader refused: strings, brackets, colons, literals.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}:]|[^\s\[\]{}:,"]+', re.DOTALL)


def _is_json(module: ModuleType) -> bool:
    return getattr(module, "KIND", "csv") == "json"


def _looks_like_json(text: IO[str]) -> bool:
    """Peek at the first non-blank character without consuming the stream's header."""
    buffer = getattr(text, "buffer", None)
    if buffer is None or not hasattr(buffer, "peek"):
        return False
    head = buffer.peek(1024)[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")


def _line_and_column(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in characters, a BOM not counted) of byte ``offset`` of a document."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    before = data[line_start:offset].decode("utf-8", "replace").removeprefix("\ufeff")
    return data.count(b"\n", 0, offset) + 1, len(before) + 1


def _json_nesting(data: bytes) -> int:
    """How many brackets are still open at the end of ``data`` (0 for a whole document); IngestError where they
    nest deeper than JSON_MAX_DEPTH. A scan without recursion: the depth is known before json.loads recurses."""
    depth = 0
    for token in _NESTING_TOKEN.finditer(data):
        first = data[token.start()]
        if first in b"[{":
            depth += 1
            if depth > JSON_MAX_DEPTH:
                line, column = _line_and_column(data, token.start())
                message = (
                    f"the JSON document nests deeper than {JSON_MAX_DEPTH} levels (at line {line:,}, column "
                    f"{column:,}); expected an API response as returned, which nests fewer than 10 levels"
                )
                raise IngestError([RowError(row=line, message=message)])
        elif first in b"]}":
            depth -= 1
    return depth


def _json_text(data: bytes, *, final: bool = True) -> str:
    """``data`` decoded as UTF-8, a BOM dropped; ``final=False`` for a prefix that may end inside a character."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return codecs.utf_8_decode(memoryview(data)[bom:], "strict", final)[0]
    except UnicodeDecodeError as error:
        offset = bom + error.start
        line, column = _line_and_column(data, offset)
        message = (
            f"the file is not UTF-8 text (undecodable byte 0x{data[offset]:02x} at line {line:,}, column "
            f"{column:,}); expected UTF-8 JSON"
        )
        raise IngestError([RowError(row=line, message=message)]) from error


class _RefusedValue(Exception):
    """Raised by a json.loads hook for a value that must not enter a document; where it is is looked up after."""

    def __init__(self, literal: str, *, what: str, why: str, is_key: bool = False) -> None:
        super().__init__(literal)
        self.literal = literal
        self.what = what
        self.why = why
        self.is_key = is_key

    def error_in(self, content: str) -> IngestError:
        offset = _offset_of(self, content)
        if offset is None:
            return IngestError([RowError(row=None, message=f"{self.what} {self.why}")])
        line = content.count("\n", 0, offset) + 1
        column = offset - content.rfind("\n", 0, offset)
        return IngestError([RowError(row=line, message=f"{self.what} at line {line:,}, column {column:,} {self.why}")])


def _offset_of(refused: _RefusedValue, content: str) -> int | None:
    """Where the refused value is: the second occurrence of a repeated key in its object, or else the first literal
    outside strings written as ``refused.literal``. A token scan, run only after a refusal."""
    objects: list[set[str] | None] = []  # per open bracket: the keys of an object so far, None for a list
    string: re.Match[str] | None = None
    for token in _JSON_TOKEN.finditer(content):
        text = token.group()
        if text in ("{", "["):
            objects.append(set() if text == "{" else None)
        elif text in ("}", "]"):
            if objects:
                objects.pop()
        elif text == ":" and refused.is_key and string is not None and objects and (keys := objects[-1]) is not None:
            quoted = string.group()
            key = json.loads(quoted) if "\\" in quoted else quoted[1:-1]
            if key == refused.literal and key in keys:
                return string.start()
            keys.add(key)
        elif not refused.is_key and text == refused.literal:
            return token.start()
        string = token if text.startswith('"') else None
    return None


def _out_of_range(literal: str) -> _RefusedValue:
    shown = literal if len(literal) <= JSON_NUMBER_MAX_CHARS else f"{literal[:20]}... ({len(literal):,} characters)"
    return _RefusedValue(
        literal,
        what=f"the number {shown}",
        why=f"is out of range; expected a count or an amount below 10^{JSON_NUMBER_MAX_DIGITS} in at most "
        f"{JSON_NUMBER_MAX_CHARS} characters",
    )


def _json_int(literal: str) -> int:
    if len(literal.lstrip("-")) > JSON_NUMBER_MAX_DIGITS:
        raise _out_of_range(literal)
    return int(literal)


def _json_decimal(literal: str) -> Decimal:
    if len(literal) > JSON_NUMBER_MAX_CHARS:
        raise _out_of_range(literal)
    number = Decimal(literal)
    if number.adjusted() >= JSON_NUMBER_MAX_DIGITS:
        raise _out_of_range(literal)
    return number


def _json_constant(name: str) -> NoReturn:
    raise _RefusedValue(
        name, what=name, why="is not a JSON number; expected a finite number (JSON has no NaN or Infinity)"
    )


def _json_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    document = dict(pairs)
    if len(document) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RefusedValue(
                    key,
                    what=f"the key {key!r}",
                    why="appears twice in one object; expected each key once, as the API returns it",
                    is_key=True,
                )
            seen.add(key)
    return document


def _decode_json(content: str, unclosed: int) -> object:
    """The document in ``content`` (numbers as int or Decimal: money never passes through a float); IngestError
    with line and column when it is not one whole, plain JSON document. ``unclosed`` is ``_json_nesting``'s."""
    try:
        return json.loads(
            content,
            parse_float=_json_decimal,
            parse_int=_json_int,
            parse_constant=_json_constant,
            object_pairs_hook=_json_object,
        )
    except _RefusedValue as refused:
        raise refused.error_in(content) from None
    except json.JSONDecodeError as error:
        end = len(content.rstrip())
        if unclosed > 0 and (error.pos >= end or error.msg.startswith("Unterminated string")):
            line = content.count("\n", 0, end) + 1
            brackets = f"{unclosed} bracket{'s' if unclosed > 1 else ''}"
            message = (
                f"the JSON document stops at line {line:,} before it is complete ({brackets} still open): the "
                f"file seems cut off; {JSON_EXPECTED}"
            )
        else:
            line = error.lineno
            message = f"not valid JSON at line {line:,}, column {error.colno:,} ({error.msg}); {JSON_EXPECTED}"
        raise IngestError([RowError(row=line, message=message)]) from error


def _parse_json(data: bytes) -> object:
    """The JSON document in ``data``: its nesting checked first, then its encoding, then parsed (``_decode_json``)."""
    unclosed = _json_nesting(data)
    return _decode_json(_json_text(data), unclosed)


def _json_bytes(text: IO[str], limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of an export opened by ``text_stream``, nothing of which was read as text yet."""
    return cast(TextIO, text).buffer.read(limit + 1)


def _load_json(text: IO[str]) -> object:
    """The whole JSON document of an export opened by ``text_stream`` (the worker reads it whole)."""
    data = _json_bytes(text, JSON_MAX_BYTES)
    if len(data) > JSON_MAX_BYTES:
        message = f"the JSON document is over {JSON_MAX_BYTES:,} bytes; expected one API response per file"
        raise IngestError([RowError(row=None, message=message)])
    return _parse_json(data)


def _described(document: object) -> str:
    if isinstance(document, dict):
        keys = ", ".join(repr(key) for key in list(document)[:5])
        return f"an object with the keys {keys}{', ...' if len(document) > 5 else ''}" if keys else "an empty object"
    if isinstance(document, list):
        return f"a list of {len(document):,} item{'' if len(document) == 1 else 's'}"
    return "a single value"


def _module_for_document(document: object, format_name: str | None) -> ModuleType:
    candidates = [FORMATS[format_name]] if format_name in FORMATS else list(FORMATS.values())
    for module in candidates:
        if _is_json(module) and module.matches(document):
            return module
    json_labels = ", ".join(module.LABEL for module in FORMATS.values() if _is_json(module)) or "none yet"
    message = (
        f"the JSON document ({_described(document)}) is not a known API response; expected a page, a list of "
        f"pages or a list of buckets as returned by one of: {json_labels}"
    )
    raise IngestError([RowError(row=None, message=message)])


def _module_for_text(text: IO[str], format_name: str | None, *, read_whole: bool) -> ModuleType | None:
    """The format of one export opened by ``text_stream``. Unless ``read_whole``, a JSON document over
    DETECT_MAX_BYTES gives None once its first DETECT_MAX_BYTES pass the checks that need no parse."""
    if not _looks_like_json(text):
        return _module_for_header(header_of(text), format_name)
    module = FORMATS.get(format_name or "")
    if module is not None and not _is_json(module):
        raise IngestError([RowError(row=None, message=f"not a {module.LABEL}: the file is JSON, not CSV")])
    if read_whole:
        return _module_for_document(_load_json(text), format_name)
    data = _json_bytes(text, DETECT_MAX_BYTES)
    if len(data) <= DETECT_MAX_BYTES:
        return _module_for_document(_parse_json(data), format_name)
    _json_nesting(data)
    _json_text(data, final=False)
    return None


def _module_for_header(header: list[str], format_name: str | None) -> ModuleType:
    columns = {normalize_header_name(name) for name in header}
    if format_name is not None:
        if format_name not in FORMATS:
            raise IngestError(
                [RowError(row=None, message=f"unknown format {format_name!r}; known: {', '.join(sorted(FORMATS))}")]
            )
        module = FORMATS[format_name]
        if _is_json(module):
            raise IngestError([RowError(row=1, message=f"not a {module.LABEL}: the file is CSV, not JSON")])
        missing = module.SIGNATURE - columns
        if missing:
            raise IngestError(
                [RowError(row=1, message=f"not a {module.LABEL}: the header lacks {', '.join(sorted(missing))}")]
            )
        return module
    for module in FORMATS.values():
        if not _is_json(module) and columns >= module.SIGNATURE:
            return module
    raise _unknown_header_error(header)


def _in_member(member: ExportMember, many: bool, error: IngestError) -> IngestError:
    """Name the archive member in each message when an upload holds several exports."""
    if not many:
        return error
    return IngestError(
        [RowError(row=e.row, column=e.column, message=f"in {member.name}: {e.message}") for e in error.errors]
    )


def _one_format(path: Path, format_name: str | None, *, max_expanded_bytes: int, read_whole: bool) -> ModuleType | None:
    """The one format of the upload's exports (see ``_module_for_text``); None when it waits for the worker."""
    members = export_members(path, max_expanded_bytes=max_expanded_bytes)
    found: dict[str, ModuleType | None] = {}
    for member in members:
        try:
            with text_stream(member.open()) as text:
                found[member.name] = _module_for_text(text, format_name, read_whole=read_whole)
        except IngestError as error:
            raise _in_member(member, len(members) > 1, error) from error
    detected = {module.NAME: module for module in found.values() if module is not None}
    waiting = None in found.values()
    if len(detected) > 1 or (waiting and not all(_is_json(module) for module in detected.values())):
        listing = ", ".join(f"{member} is {module.NAME if module else 'JSON'}" for member, module in found.items())
        raise IngestError(
            [RowError(row=None, message=f"the archive mixes export formats ({listing}); upload them separately")]
        )
    return None if waiting else next(iter(detected.values()))


def detect_format(
    path: Path, format_name: str | None = None, *, max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES
) -> ModuleType:
    """The format module for the upload: ``format_name`` if given, else detected from the header (or from the
    JSON document, read whole).

    A zip may hold several exports; they must all be of one format.
    """
    module = _one_format(path, format_name, max_expanded_bytes=max_expanded_bytes, read_whole=True)
    assert module is not None, "a JSON document read whole always gets its format or an IngestError"
    return module


def detect_upload_format(
    path: Path, format_name: str | None = None, *, max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES
) -> ModuleType | None:
    """``detect_format`` for the web process: it reads at most DETECT_MAX_BYTES of each export.

    None when an export is a JSON document larger than that: its first DETECT_MAX_BYTES passed the checks that
    need no parse (nesting, UTF-8), and the worker detects its format, or fails the upload, when it ingests it.
    """
    return _one_format(path, format_name, max_expanded_bytes=max_expanded_bytes, read_whole=False)


def parse_export(
    path: Path, module: ModuleType, stats: ParseStats, *, max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES
) -> Iterator[CanonicalRecord]:
    """Stream the upload's canonical records; IngestError (row-numbered) when any row is bad."""
    members = export_members(path, max_expanded_bytes=max_expanded_bytes)
    for member in members:
        try:
            with text_stream(member.open()) as text:
                if _is_json(module):
                    yield from module.parse_document(_load_json(text), stats)
                else:
                    yield from module.parse(text, stats)
        except IngestError as error:
            raise _in_member(member, len(members) > 1, error) from error
