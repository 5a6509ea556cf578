"""Template filter that writes token counts with thousands separators."""

from django import template

register = template.Library()


@register.filter(name="tokens")
def tokens(value: int | None) -> str:
    """1234567 -> '1,234,567'."""
    return "" if value is None else f"{int(value):,}"
