"""Model-id normalization across export spellings (no database)."""

from __future__ import annotations

import pytest

from ingest.normalize import normalize_model


@pytest.mark.parametrize(
    ("provider", "raw", "expected"),
    [
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai", "ft:gpt-4o-2024-08-06:acme:support:abc123", "gpt-4o"),
        ("openai", "ft-gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "o4-mini-2025-04-16", "o4-mini"),
        ("openai", "gpt-5", "gpt-5"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("anthropic", "Claude Sonnet 4.5", "claude-sonnet-4-5"),
        ("anthropic", "Claude 3.5 Sonnet 2024-10-22", "claude-3-5-sonnet"),
    ],
)
def test_normalize_model(provider: str, raw: str, expected: str) -> None:
    assert normalize_model(provider=provider, model_raw=raw) == expected
