"""Serializer fields shared by the API's apps."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from finops.money import money_str

MONEY_SCHEMA = {
    "type": "string",
    "format": "decimal",
    "pattern": r"^-?\d+(\.\d+)?$",
    "description": "Decimal string rounded to the currency's minor unit (2 decimals for USD, 0 for JPY).",
}


@extend_schema_field(MONEY_SCHEMA)
class MoneyField(serializers.Field):  # type: ignore[type-arg]
    """An amount as a decimal string at its currency's minor unit (``finops.money.money_str``), read only.

    The currency is ``currency`` (fixed), or read from the same object's ``currency_source`` attribute or key.
    """

    def __init__(self, *, currency: str = "USD", currency_source: str | None = None, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)
        self.currency = currency
        self.currency_source = currency_source

    def get_attribute(self, instance: Any) -> Any:
        amount = super().get_attribute(instance)
        currency = self.currency
        if self.currency_source:
            found = (
                instance.get(self.currency_source)
                if isinstance(instance, Mapping)
                else getattr(instance, self.currency_source, None)
            )
            currency = str(found or currency)
        return amount, currency

    def to_representation(self, value: tuple[Decimal | str | int | float | None, str]) -> str | None:
        amount, currency = value
        return None if amount is None else money_str(amount, currency)
