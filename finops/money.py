"""Money at the edge: amounts rounded to a currency's minor unit (cents for USD, none for JPY) as decimal strings.

Stored money keeps up to ten decimals (ledger costs, forecast points); what leaves the service through the
API or an export is rounded here, in one place, so no response carries ``1495.84415035000``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units that differ from the usual two decimals.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX"), 0),
    **dict.fromkeys(("UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}
DEFAULT_MINOR_UNITS = 2


def minor_units(currency: str) -> int:
    """Decimals of the currency's minor unit per ISO 4217: 2 for USD and EUR, 0 for JPY, 3 for KWD."""
    return _MINOR_UNITS.get((currency or "").upper(), DEFAULT_MINOR_UNITS)


def money_round(amount: Decimal | int | float | str, currency: str) -> Decimal:
    """``amount`` rounded half up to the currency's minor unit; floats go through ``str`` so 0.1 stays 0.1."""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return value.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def money_str(amount: Decimal | int | float | str, currency: str) -> str:
    """``amount`` as a plain decimal string at the currency's minor unit: ``"1495.84"`` (USD), ``"1496"`` (JPY)."""
    return format(money_round(amount, currency), "f")


def money_display(amount: Decimal | int | float | str, currency: str) -> str:
    """``amount`` for people to read, at the currency's minor unit with thousands separators and the code:
    ``"1,495.84 USD"``, ``"1,496 JPY"`` (e-mails; the API and exports keep ``money_str``)."""
    return f"{money_round(amount, currency):,} {currency}"
