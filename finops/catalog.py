"""The price catalog's pure side (no Django): shipped data files, naming rules and the price-file parser.

Shipped files (provenance in ``finops/data/PROVENANCE.md``):

- ``price_history.csv``: one row per provider, model and effective date with input, output and
  cached-input prices in USD per million tokens.
- ``model_quality.csv``: quality scores per model (score name, value, snapshot date, source).
- ``price_multipliers.csv``: batch / flex discounts and regional surcharges per provider.

Naming rules (documented here, tested in ``tests/finops/test_catalog.py``):

- ``canonical_model_id`` strips what a buying route adds to a model id, so the spellings of one
  model share one id: Bedrock geo and vendor prefixes (``global.anthropic.``), API versions
  (``-v1:0``), Vertex ``@`` versions, ``amazon-`` prefixes, snapshot dates (``-20250929``,
  ``-2024-07-18``), Gemini stable versions (``-001``); Claude versions use hyphens and drop a ``.0``
  (``claude-sonnet-4.5`` -> ``claude-sonnet-4-5``, ``claude-sonnet-4-0`` -> ``claude-sonnet-4``);
  Llama versions use a dot and drop ``instruct`` (``llama3-3-70b-instruct`` -> ``llama-3.3-70b``).
  These are the ledger's spellings (``ingest/normalize.py``) for the ids the price sources use.
- ``long_context_tier``: an id ending in ``-<N>k`` with N >= 100 (``-128k``, ``-200k``, ``-272k``)
  is the long-context price tier, above N thousand tokens, of the id without the suffix. Smaller
  suffixes (``gpt-4-32k``) are models of their own.
- ``model_family_tier``: family is the product line that persists across versions (``sonnet``,
  ``gpt-mini``, ``gemini-flash``), tier is ``large``, ``mid`` or ``small``; see ``FAMILY_RULES``.
  Ids no rule matches get blanks.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
PRICE_FILE = DATA_DIR / "price_history.csv"
QUALITY_FILE = DATA_DIR / "model_quality.csv"
MULTIPLIER_FILE = DATA_DIR / "price_multipliers.csv"

# The price file names where a price is charged; the ledger names providers by buying route.
PROVIDER_BY_CATALOG_NAME = {
    "openai": "openai",
    "anthropic": "anthropic",
    "aws-bedrock": "aws_bedrock",
    "google-vertex": "gcp_vertex",
    "google": "gcp_gemini_api",
    "azure": "azure_openai",
}
# The route on which a model vendor sells directly (model_quality.csv names vendors).
DIRECT_ROUTE_BY_VENDOR = {"google": "gcp_gemini_api"}

PRICE_COLUMNS = {"input_per_mtok": "input", "output_per_mtok": "output", "cached_input_per_mtok": "cached_input"}
PRICED_TOKEN_TYPES = ("input", "output", "cached_input", "cache_write")
CACHE_TTLS = ("5m", "1h")
# Cache writes whose TTL is not known (the ledger does not keep it) are priced at a price without TTL,
# else at this TTL: Anthropic's default.
DEFAULT_CACHE_TTL = "5m"
# Anthropic's cache-write prices as multiples of the base input price (reference price-decline.md section 3).
CLAUDE_CACHE_WRITE_MULTIPLIERS = {"5m": Decimal("1.25"), "1h": Decimal("2")}

# ISO 4217 codes accepted in price and FX files; add a code here when you need it.
CURRENCIES = (
    *("USD", "EUR", "GBP", "JPY", "CNY", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON"),
    *("BGN", "ISK", "INR", "BRL", "MXN", "KRW", "SGD", "HKD", "NZD", "ZAR", "ILS", "TRY", "AED", "SAR", "TWD"),
    *("THB", "IDR", "MYR", "PHP", "CLP", "COP", "ARS"),
)

WIDE_COLUMNS = (
    "provider",
    "model",
    "effective_date",
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "currency",
    "source",
)
WIDE_OPTIONAL_COLUMNS = {"cache_write_5m_per_mtok": "5m", "cache_write_1h_per_mtok": "1h"}
MAX_PRICE = 100_000_000  # the catalog stores up to 8 integer digits per million tokens
LONG_COLUMNS = ("provider", "model", "token_type", "usd_per_million", "effective_from", "currency", "source")
OPTIONAL_COLUMNS = ("cache_ttl", "effective_to")


@dataclass(frozen=True)
class CatalogPrice:
    provider: str
    model: str
    token_type: str
    usd_per_million: Decimal
    effective_from: date
    source: str


def provider_route(name: str) -> str:
    """The ledger's route name for a provider as a price file names it (``aws-bedrock`` -> ``aws_bedrock``)."""
    cleaned = name.strip()
    return PROVIDER_BY_CATALOG_NAME.get(cleaned.lower(), cleaned)


def catalog_prices(path: Path = PRICE_FILE) -> Iterator[CatalogPrice]:
    """Yield one price per (provider, model, token type, effective date) in the file."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            provider = PROVIDER_BY_CATALOG_NAME.get(row["provider"], row["provider"])
            for column, token_type in PRICE_COLUMNS.items():
                if row[column].strip():
                    yield CatalogPrice(
                        provider=provider,
                        model=row["model"],
                        token_type=token_type,
                        usd_per_million=Decimal(row[column]),
                        effective_from=date.fromisoformat(row["effective_date"]),
                        source=row["source"],
                    )


def catalog_price_fields(path: Path = PRICE_FILE) -> dict[tuple[str, str, str, date], dict[str, object]]:
    """Model-field values of each distinct catalog price, keyed by (provider, model, token type, date)."""
    fields: dict[tuple[str, str, str, date], dict[str, object]] = {}
    for price in catalog_prices(path):
        key = (price.provider, price.model, price.token_type, price.effective_from)
        fields.setdefault(key, price.__dict__.copy())
    return fields


def derived_cache_write_prices(prices: Iterable[CatalogPrice]) -> Iterator[tuple[CatalogPrice, str]]:
    """Cache-write prices (with their TTL) derived from Claude input prices, which the price file lacks.

    Anthropic charges 1.25x the input price for a 5-minute cache write and 2x for a 1-hour one; the
    same ratios hold for Claude on Bedrock and Vertex (the Bedrock CUR sample bills 1.25x).
    """
    for price in prices:
        if price.token_type != "input" or not canonical_model_id(price.model).startswith("claude-"):
            continue
        for ttl, multiplier in CLAUDE_CACHE_WRITE_MULTIPLIERS.items():
            derived = CatalogPrice(
                provider=price.provider,
                model=price.model,
                token_type="cache_write",
                usd_per_million=price.usd_per_million * multiplier,
                effective_from=price.effective_from,
                source=f"derived: {multiplier}x the input price ({ttl} cache write, Anthropic pricing docs); "
                f"input from {price.source}",
            )
            yield derived, ttl


# --- naming rules ---

_GEO_PREFIX = re.compile(r"^(global|regional|us-gov|us|eu|apac|jp|au|ca)\.")
_VENDOR_PREFIX = re.compile(
    r"^(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|moonshot|nvidia|google|minimax)\."
)
_API_VERSION = re.compile(r"(?:-v\d+(?::\d+)?|-\d+:\d+|:\d+)$")
_LLAMA = re.compile(r"^(?:meta-)?llama-?(\d)(?:[.-](\d)(?=-))?-(.+)$")
_VERTEX_VERSION = re.compile(r"@[a-z0-9._-]+$")
_SNAPSHOT_DATE = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
_GEMINI_STABLE = re.compile(r"^(gemini-.+)-\d{3}$")
_CLAUDE_DOTTED = re.compile(r"^claude-")
_CLAUDE_ZERO_MINOR = re.compile(r"^(claude-[a-z]+-\d+)-0$|^(claude-\d+)-0(-[a-z]+)$")
_LONG_CONTEXT = re.compile(r"^(.*?)-+(\d+)k$")
LONG_CONTEXT_MIN_THOUSANDS = 100
GEO_RANK = {"": 0, "global": 1, "regional": 3}  # other geo prefixes (us., eu. ...) rank 2


def long_context_tier(model_id: str) -> tuple[str, int] | None:
    """(base id, threshold in tokens) when ``model_id`` is a long-context price tier, else None."""
    match = _LONG_CONTEXT.fullmatch(model_id.strip())
    if match is None or int(match.group(2)) < LONG_CONTEXT_MIN_THOUSANDS:
        return None
    return match.group(1), int(match.group(2)) * 1000


def geo_prefix(model_id: str) -> str:
    """The Bedrock geo prefix of an id (``global``, ``regional``, ``us`` ...), or ``""``."""
    match = _GEO_PREFIX.match(model_id.strip().lower())
    return match.group(1) if match else ""


def canonical_model_id(model_id: str) -> str:
    """The id with route decorations removed (rules in the module docstring); long-context suffixes kept."""
    tier = long_context_tier(model_id)
    if tier is not None:
        return f"{canonical_model_id(tier[0])}-{tier[1] // 1000}k"
    key = "-".join(model_id.strip().lower().split())
    key = _VERTEX_VERSION.sub("", key)
    key = _GEO_PREFIX.sub("", key)
    key = _VENDOR_PREFIX.sub("", key)
    key = _API_VERSION.sub("", key)
    if key.startswith("amazon-nova"):
        key = key.removeprefix("amazon-")
    key = _SNAPSHOT_DATE.sub("", key)
    key = _GEMINI_STABLE.sub(r"\1", key)
    llama = _LLAMA.fullmatch(key)
    if llama:
        major, minor, rest = llama.groups()
        key = "-".join(
            ["llama", f"{major}.{minor}" if minor else major, *(w for w in rest.split("-") if w != "instruct")]
        )
    if _CLAUDE_DOTTED.match(key):
        key = key.replace(".", "-")
        zero = _CLAUDE_ZERO_MINOR.fullmatch(key)
        if zero:
            key = zero.group(1) or f"{zero.group(2)}{zero.group(3)}"
    return key


# (pattern on the canonical id, family, tier); the first match wins.
FAMILY_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), family, tier)
    for pattern, family, tier in (
        (r"^claude-.*opus", "opus", "large"),
        (r"^claude-.*sonnet", "sonnet", "mid"),
        (r"^claude-.*haiku", "haiku", "small"),
        (r"^claude-instant", "claude-instant", "small"),
        (r"^gpt-.*-nano", "gpt-nano", "small"),
        (r"^gpt-.*-mini", "gpt-mini", "small"),
        (r"^gpt-.*-pro", "gpt-pro", "large"),
        (r"^gpt-3[.]?5", "gpt-3.5", "small"),
        (r"^gpt-4[.]5", "gpt-4.5", "large"),
        (r"^gpt-4(-|$)", "gpt-4", "large"),
        (r"^gpt-(4o|4[.]1|5)", "gpt", "mid"),
        (r"^o\d+-mini", "o-mini", "small"),
        (r"^o\d+(-|$)", "o", "large"),
        (r"^gemini-.*(flash-lite|flash-8b)", "gemini-flash-lite", "small"),
        (r"^gemini-.*flash", "gemini-flash", "small"),
        (r"^gemini-.*pro", "gemini-pro", "mid"),
        (r"^gemini-.*ultra", "gemini-ultra", "large"),
        (r"^nova-(\d+-)?micro", "nova-micro", "small"),
        (r"^nova-(\d+-)?lite", "nova-lite", "small"),
        (r"^nova-(\d+-)?pro", "nova-pro", "mid"),
        (r"^nova-(\d+-)?premier", "nova-premier", "large"),
        (r"^(mistral|magistral)-large", "mistral-large", "large"),
        (r"^(mistral|magistral)-medium", "mistral-medium", "mid"),
        (r"^(mistral-small|ministral|mistral-tiny|open-mistral)", "mistral-small", "small"),
        (r"^grok-.*mini", "grok-mini", "small"),
        (r"^command-r-plus", "command-r-plus", "mid"),
        (r"^command-r", "command-r", "small"),
    )
)
_LLAMA_SIZE = re.compile(r"llama.*?(\d+)b(?![a-z])")


def model_family_tier(model_id: str) -> tuple[str, str]:
    """(family, tier) of a model by the rules in FAMILY_RULES; Llama by parameter count; else blanks."""
    key = canonical_model_id(model_id)
    for pattern, family, tier in FAMILY_RULES:
        if pattern.search(key):
            return family, tier
    llama = _LLAMA_SIZE.search(key)
    if llama:
        size = int(llama.group(1))
        return "llama", "large" if size >= 300 else "mid" if size >= 60 else "small"
    return "", ""


# --- quality scores and multipliers ---


@dataclass(frozen=True)
class QualityScore:
    provider: str
    model: str
    score_name: str
    score: Decimal
    as_of: date
    source: str


def quality_scores(path: Path = QUALITY_FILE) -> Iterator[QualityScore]:
    """Yield the shipped quality scores (one per model, score name and snapshot)."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield QualityScore(
                provider=row["provider"],
                model=row["model"],
                score_name=row["score_name"],
                score=Decimal(row["score"]),
                as_of=date.fromisoformat(row["as_of"]),
                source=row["source"],
            )


@dataclass(frozen=True)
class Multiplier:
    provider: str
    kind: str
    multiplier: Decimal
    token_types: list[str]
    source: str


def price_multipliers(path: Path = MULTIPLIER_FILE) -> Iterator[Multiplier]:
    """Yield the shipped multipliers (``token_types`` empty means every token type)."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield Multiplier(
                provider=row["provider"],
                kind=row["kind"],
                multiplier=Decimal(row["multiplier"]),
                token_types=[token_type for token_type in row["token_types"].split() if token_type],
                source=row["source"],
            )


# --- price files (import) ---


@dataclass(frozen=True)
class FileError:
    """One problem in an imported file: where (row, column) and what was expected."""

    row: int | None
    message: str
    column: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        if self.column:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class FileRejected(Exception):
    """The file was rejected whole; ``errors`` lists every problem found. Nothing was written."""

    def __init__(self, errors: list[FileError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors[:5]))


def text_lines(data: bytes) -> list[str]:
    """The lines of an uploaded CSV (UTF-8, a byte-order mark allowed); FileRejected when it is not text."""
    if b"\x00" in data:
        raise FileRejected([FileError(None, "the file is binary, not text; expected a CSV file (UTF-8 text)")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRejected(
            [FileError(None, f"the file is not UTF-8 text (byte {error.start}); save it as UTF-8 CSV")]
        ) from error
    return text.splitlines(keepends=True)


@dataclass(frozen=True)
class PriceRow:
    """One price of an imported file, as the file states it (amount in ``currency`` per million tokens)."""

    row: int
    provider: str
    model: str
    token_type: str
    cache_ttl: str
    amount: Decimal
    currency: str
    effective_from: date
    effective_to: date | None
    source: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.provider, self.model, self.token_type, self.cache_ttl)


@dataclass
class _RowReader:
    """Reads typed cells of one CSV row, collecting errors instead of stopping at the first."""

    number: int
    cells: dict[str, str]
    errors: list[FileError] = field(default_factory=list)

    def text(self, column: str, *, required: bool = True) -> str:
        value = (self.cells.get(column) or "").strip()
        if required and not value:
            self.errors.append(FileError(self.number, "is empty; a value is required", column))
        return value

    def day(self, column: str, *, required: bool = True) -> date | None:
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors.append(FileError(self.number, f"{value!r} is not a date; expected YYYY-MM-DD", column))
            return None

    def price(self, column: str) -> Decimal | None:
        value = self.text(column, required=False)
        if not value:
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            self.errors.append(
                FileError(self.number, f"{value!r} is not a number; expected a number like 2.50", column)
            )
            return None
        if amount < 0:
            self.errors.append(FileError(self.number, f"{value} is negative; a price must be zero or more", column))
            return None
        if amount >= MAX_PRICE:
            self.errors.append(
                FileError(self.number, f"{value} is too large; expected less than {MAX_PRICE:,}", column)
            )
            return None
        return amount

    def currency(self, column: str = "currency") -> str:
        value = self.text(column).upper()
        if value and value not in CURRENCIES:
            self.errors.append(
                FileError(self.number, f"unknown currency {value!r}; expected an ISO 4217 code such as USD", column)
            )
        return value


def _missing_columns(header: list[str], required: Iterable[str]) -> list[str]:
    return [column for column in required if column not in header]


def parse_price_file(lines: Iterable[str]) -> list[PriceRow]:
    """Parse a price file in the wide or long format (finops/data/FORMATS.md); raise FileRejected on any error.

    Wide: the columns of ``price_history.csv`` (optionally ``cache_write_5m_per_mtok``,
    ``cache_write_1h_per_mtok``, ``effective_to``); a blank price cell means no price for that token
    type. Long: ``provider,model,token_type,usd_per_million,effective_from,currency,source``
    (optionally ``cache_ttl``, ``effective_to``). Rows are numbered as lines, the header is row 1.
    Checks within the file: every cell parses, prices are not negative, token types and currencies
    are known, and the same key (provider, model, token type, TTL) has no duplicate effective date
    and no overlapping effective ranges.
    """
    reader = csv.reader(lines)
    header = [column.strip().lstrip("\ufeff") for column in next(reader, [])]
    if not any(header):
        raise FileRejected([FileError(1, "the file is empty; expected a CSV header row")])
    long_format = "token_type" in header
    required = LONG_COLUMNS if long_format else WIDE_COLUMNS
    missing = _missing_columns(header, required)
    if missing:
        expected = ",".join(required)
        raise FileRejected(
            [FileError(1, f"missing column(s) {', '.join(missing)}; expected the header {expected}", None)]
        )
    rows: list[PriceRow] = []
    errors: list[FileError] = []
    for number, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            errors.append(FileError(number, f"has {len(values)} fields, expected {len(header)} as in the header"))
            continue
        cells = _RowReader(number, dict(zip(header, values, strict=True)))
        parsed = _long_row(cells) if long_format else _wide_rows(cells)
        errors.extend(cells.errors)
        if not cells.errors:
            rows.extend(parsed)
    if not rows and not errors:
        errors.append(FileError(None, "the file has a header but no price rows"))
    errors.extend(_overlaps(rows))
    if errors:
        raise FileRejected(sorted(errors, key=lambda error: error.row or 0))
    return rows


def _common(cells: _RowReader) -> tuple[str, str, str, date | None, date | None, str]:
    provider = provider_route(cells.text("provider"))
    model = cells.text("model")
    currency = cells.currency()
    date_column = "effective_from" if "effective_from" in cells.cells else "effective_date"
    effective_from = cells.day(date_column)
    effective_to = cells.day("effective_to", required=False)
    if effective_from and effective_to and effective_to < effective_from:
        cells.errors.append(
            FileError(cells.number, f"{effective_to} is before the effective date {effective_from}", "effective_to")
        )
    source = cells.text("source")
    return provider, model, currency, effective_from, effective_to, source


def _long_row(cells: _RowReader) -> list[PriceRow]:
    provider, model, currency, effective_from, effective_to, source = _common(cells)
    token_type = cells.text("token_type")
    if token_type and token_type not in PRICED_TOKEN_TYPES:
        cells.errors.append(
            FileError(
                cells.number,
                f"unknown token type {token_type!r}; expected one of {', '.join(PRICED_TOKEN_TYPES)}",
                "token_type",
            )
        )
    cache_ttl = cells.text("cache_ttl", required=False)
    if token_type == "cache_write" and cache_ttl not in ("", *CACHE_TTLS):
        cells.errors.append(
            FileError(cells.number, f"unknown cache TTL {cache_ttl!r}; expected 5m, 1h or blank", "cache_ttl")
        )
    elif token_type != "cache_write" and cache_ttl:
        cells.errors.append(FileError(cells.number, "a cache TTL applies only to cache_write prices", "cache_ttl"))
    amount = cells.price("usd_per_million")
    if amount is None and not any(error.column == "usd_per_million" for error in cells.errors):
        cells.errors.append(FileError(cells.number, "is empty; a price is required", "usd_per_million"))
    if cells.errors or amount is None or effective_from is None:
        return []
    return [
        PriceRow(
            cells.number, provider, model, token_type, cache_ttl, amount, currency, effective_from, effective_to, source
        )
    ]


def _wide_rows(cells: _RowReader) -> list[PriceRow]:
    provider, model, currency, effective_from, effective_to, source = _common(cells)
    columns = [(column, token_type, "") for column, token_type in PRICE_COLUMNS.items()]
    columns += [(column, "cache_write", ttl) for column, ttl in WIDE_OPTIONAL_COLUMNS.items() if column in cells.cells]
    amounts = [(token_type, ttl, cells.price(column)) for column, token_type, ttl in columns]
    if not any(amount is not None for _, _, amount in amounts) and not cells.errors:
        cells.errors.append(FileError(cells.number, "has no price; fill at least one price column", None))
    if cells.errors or effective_from is None:
        return []
    return [
        PriceRow(cells.number, provider, model, token_type, ttl, amount, currency, effective_from, effective_to, source)
        for token_type, ttl, amount in amounts
        if amount is not None
    ]


def _overlaps(rows: list[PriceRow]) -> list[FileError]:
    """Duplicate effective dates and overlapping effective ranges of one key within the file."""
    errors: list[FileError] = []
    by_key: dict[tuple[str, str, str, str], list[PriceRow]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    for (provider, model, token_type, ttl), steps in by_key.items():
        label = f"{provider}/{model} {token_type}{f' ({ttl})' if ttl else ''}"
        steps.sort(key=lambda row: (row.effective_from, row.row))
        for earlier, later in itertools.pairwise(steps):
            if later.effective_from == earlier.effective_from:
                errors.append(
                    FileError(
                        later.row,
                        f"duplicate: row {earlier.row} already prices {label} from {later.effective_from}",
                    )
                )
            elif earlier.effective_to is not None and earlier.effective_to >= later.effective_from:
                errors.append(
                    FileError(
                        later.row,
                        f"overlaps row {earlier.row}: {label} is priced {earlier.effective_from} to "
                        f"{earlier.effective_to} there, and from {later.effective_from} here",
                    )
                )
    return errors


def range_conflict(
    *, effective_from: date, effective_to: date | None, steps: Iterable[tuple[date, date | None]]
) -> tuple[date, date | None] | None:
    """The first step of the same series that a price from ``effective_from`` to ``effective_to`` overlaps.

    Steps without an end are ended by the next step, so only two things overlap: a step that starts
    inside the closed range, and a closed step whose range holds the new start. Same-start steps
    are replacements, not overlaps.
    """
    for step_from, step_to in sorted(steps):
        if step_from == effective_from:
            continue
        if effective_to is not None and effective_from < step_from <= effective_to:
            return step_from, step_to
        if step_to is not None and step_from < effective_from <= step_to:
            return step_from, step_to
    return None


@dataclass(frozen=True)
class FxRow:
    row: int
    from_currency: str
    to_currency: str
    rate: Decimal
    rate_date: date
    source: str


FX_COLUMNS = ("date", "from_currency", "to_currency", "rate")


def parse_fx_file(lines: Iterable[str]) -> list[FxRow]:
    """Parse an FX file ``date,from_currency,to_currency,rate[,source]`` (1 from = rate to); FileRejected on error."""
    reader = csv.reader(lines)
    header = [column.strip().lstrip("\ufeff") for column in next(reader, [])]
    if not any(header):
        raise FileRejected([FileError(1, "the file is empty; expected a CSV header row")])
    missing = _missing_columns(header, FX_COLUMNS)
    if missing:
        raise FileRejected(
            [FileError(1, f"missing column(s) {', '.join(missing)}; expected the header {','.join(FX_COLUMNS)},source")]
        )
    rows: list[FxRow] = []
    errors: list[FileError] = []
    seen: dict[tuple[str, str, date], int] = {}
    for number, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            errors.append(FileError(number, f"has {len(values)} fields, expected {len(header)} as in the header"))
            continue
        cells = _RowReader(number, dict(zip(header, values, strict=True)))
        rate_date = cells.day("date")
        from_currency = cells.currency("from_currency")
        to_currency = cells.currency("to_currency")
        rate = cells.price("rate")
        if rate is None and not cells.errors:
            cells.errors.append(FileError(number, "is empty; a rate is required", "rate"))
        elif rate == 0:
            cells.errors.append(FileError(number, "is zero; a rate must be above zero", "rate"))
        if from_currency and from_currency == to_currency:
            cells.errors.append(FileError(number, "converts a currency to itself", "to_currency"))
        errors.extend(cells.errors)
        if cells.errors or rate is None or rate_date is None:
            continue
        key = (from_currency, to_currency, rate_date)
        if key in seen:
            errors.append(
                FileError(
                    number, f"duplicate: row {seen[key]} already gives {from_currency}->{to_currency} on {rate_date}"
                )
            )
            continue
        seen[key] = number
        rows.append(FxRow(number, from_currency, to_currency, rate, rate_date, cells.text("source", required=False)))
    if not rows and not errors:
        errors.append(FileError(None, "the file has a header but no rate rows"))
    if errors:
        raise FileRejected(errors)
    return rows
