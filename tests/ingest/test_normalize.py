"""Model-id normalization across export spellings (no database)."""

from __future__ import annotations

import pytest

from ingest.normalize import normalize_model

CASES = [
    # OpenAI: dated snapshots and fine-tunes -> family id.
    ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("openai", "ft:gpt-4o-2024-08-06:acme:support:abc123", "gpt-4o"),
    ("openai", "ft-gpt-4o-2024-08-06", "gpt-4o"),
    ("openai", "o4-mini-2025-04-16", "o4-mini"),
    ("openai", "gpt-5", "gpt-5"),
    # Anthropic: API ids and Console display names; Claude 3.x version-first, 4+ family-first.
    ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("anthropic", "Claude Sonnet 4.5", "claude-sonnet-4-5"),
    ("anthropic", "Claude 3.5 Sonnet 2024-10-22", "claude-3-5-sonnet"),
    ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"),
    ("anthropic", "claude-sonnet-4-0", "claude-sonnet-4"),
    ("anthropic", "Claude 4 Sonnet", "claude-sonnet-4"),
    ("anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1"),
    ("anthropic", "Claude 2.1", "claude-2.1"),
    ("anthropic", "claude-instant-1.2", "claude-instant-1.2"),
    ("anthropic", "claude-3-5-sonnet-latest", "claude-3-5-sonnet-latest"),
    # Bedrock usage-type billing names.
    ("aws_bedrock", "Claude4.6Sonnet", "claude-sonnet-4-6"),
    ("aws_bedrock", "Claude3.5Sonnet", "claude-3-5-sonnet"),
    ("aws_bedrock", "Claude3.7Sonnet", "claude-3-7-sonnet"),
    ("aws_bedrock", "Claude3Haiku", "claude-3-haiku"),
    ("aws_bedrock", "Claude3.5Haiku", "claude-3-5-haiku"),
    ("aws_bedrock", "ClaudeHaiku4.5", "claude-haiku-4-5"),
    ("aws_bedrock", "Claude4.5Haiku", "claude-haiku-4-5"),
    ("aws_bedrock", "ClaudeOpus4.1", "claude-opus-4-1"),
    ("aws_bedrock", "Claude4Opus", "claude-opus-4"),
    ("aws_bedrock", "NovaLite", "nova-lite"),
    ("aws_bedrock", "Nova2.0Lite", "nova-2-lite"),
    ("aws_bedrock", "NovaPro", "nova-pro"),
    ("aws_bedrock", "NovaMicro", "nova-micro"),
    ("aws_bedrock", "NovaPremier", "nova-premier"),
    ("aws_bedrock", "openai.gpt-oss-120b", "gpt-oss-120b"),
    ("aws_bedrock", "openai.gpt-oss-20b-1:0", "gpt-oss-20b"),
    ("aws_bedrock", "Llama3.3-70B", "llama-3.3-70b"),
    # Bedrock API and inference-profile ids.
    ("aws_bedrock", "anthropic.claude-sonnet-4-6-v1:0", "claude-sonnet-4-6"),
    ("aws_bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
    ("aws_bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
    ("aws_bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
    ("aws_bedrock", "amazon.nova-2-lite-v1:0", "nova-2-lite"),
    ("aws_bedrock", "amazon.nova-lite-v1:0", "nova-lite"),
    ("aws_bedrock", "meta.llama3-3-70b-instruct-v1:0", "llama-3.3-70b"),
    ("aws_bedrock", "meta.llama3-70b-instruct-v1:0", "llama-3-70b"),
    ("aws_bedrock", "meta.llama4-maverick-17b-instruct-v1:0", "llama-4-maverick-17b"),
    # Bedrock marketplace product names (suffix already stripped by the parser).
    ("aws_bedrock", "Claude Sonnet 4.5", "claude-sonnet-4-5"),
    ("aws_bedrock", "Claude 3.5 Sonnet", "claude-3-5-sonnet"),
    # Vertex AI and Gemini API.
    ("gcp_vertex", "gemini-2.5-flash", "gemini-2.5-flash"),
    ("gcp_vertex", "gemini-2.5-pro", "gemini-2.5-pro"),
    ("gcp_gemini_api", "gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
    ("gcp_vertex", "gemini-2.0-flash-001", "gemini-2.0-flash"),
    ("gcp_vertex", "Gemini 2.5 Flash", "gemini-2.5-flash"),
    ("gcp_vertex", "claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
    ("gcp_vertex", "claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
    ("gcp_vertex", "claude-opus-4-1@20250805", "claude-opus-4-1"),
    # Azure meter model parts.
    ("azure_openai", "gpt 4o 0806", "gpt-4o"),
    ("azure_openai", "gpt-4o-0806", "gpt-4o"),
    ("azure_openai", "gpt-4o-mini-0718", "gpt-4o-mini"),
    ("azure_openai", "gpt 4o mini0718", "gpt-4o-mini"),
    ("azure_openai", "gpt 4.1 mini", "gpt-4.1-mini"),
    ("azure_openai", "gpt 4.1", "gpt-4.1"),
    ("azure_openai", "GPT 5", "gpt-5"),
    ("azure_openai", "GPT 5 Nano", "gpt-5-nano"),
    ("azure_openai", "5.1 codex", "gpt-5.1-codex"),
    ("azure_openai", "5.2 chat 0210", "gpt-5.2-chat"),
    ("azure_openai", "o4-mini 0416", "o4-mini"),
    ("azure_openai", "o1 1217", "o1"),
    ("azure_openai", "o3-deep research 0626", "o3-deep-research"),
    ("azure_openai", "gpt-35-turbo-16K-0125", "gpt-3.5-turbo-16k"),
    ("azure_openai", "gpt4omini-rt-aud1217", "gpt-4o-mini-rt-aud"),
    ("azure_openai", "gpt aud 0828 txt", "gpt-aud-txt"),
    ("azure_openai", "gpt-oss-120B", "gpt-oss-120b"),
    ("azure_openai", "gpt-4o-2024-08-06", "gpt-4o"),
    ("azure_openai", "text embedding 3 large", "text-embedding-3-large"),
    ("azure_openai", "codex mini", "codex-mini"),
    ("azure_foundry", "Phi-4-mini-reasoning", "phi-4-mini-reasoning"),
    ("azure_foundry", "Grok-3 Mini", "grok-3-mini"),
    ("azure_foundry", "Llama 3.3 70B", "llama-3.3-70b"),
    ("azure_foundry", "Llama3.3 70b", "llama-3.3-70b"),
    ("azure_foundry", "Llama3.3", "llama-3.3"),
    ("azure_foundry", "Claude Sonnet 4.5", "claude-sonnet-4-5"),
    # FOCUS: the ModelId or meter model part, whatever route it came from.
    ("focus:Microsoft", "gpt 4o 0806", "gpt-4o"),
    ("focus:Amazon Web Services", "Claude4.6Sonnet", "claude-sonnet-4-6"),
    ("focus:Amazon Web Services", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
    ("focus:Google Cloud", "gemini-2.5-flash-001", "gemini-2.5-flash"),
    ("focus:OpenAI", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("focus:Aura Web", "aura-web.solora-jupiter-5", "aura-web.solora-jupiter-5"),
    ("focus:Aura Web", "Solora-Atlas-5.4-Mini", "solora-atlas-5.4-mini"),
]

# A longer model must never be shortened to a model it starts with.
LONGER_MODELS_KEPT = [
    ("azure_openai", "gpt 4o mini", "gpt-4o-mini"),
    ("azure_openai", "gpt 4o mini 0718", "gpt-4o-mini"),
    ("azure_openai", "gpt 4.1 nano", "gpt-4.1-nano"),
    ("azure_openai", "gpt 4.1 mini dev", "gpt-4.1-mini-dev"),
    ("azure_openai", "5.1 codex mini", "gpt-5.1-codex-mini"),
    ("azure_openai", "5.1 codex max", "gpt-5.1-codex-max"),
    ("azure_openai", "GPT 5.2 pro", "gpt-5.2-pro"),
    ("azure_openai", "o4-mini", "o4-mini"),
    ("azure_openai", "o1 preview", "o1-preview"),
    ("azure_openai", "gpt-4o-mini-tts-aud", "gpt-4o-mini-tts-aud"),
    ("azure_openai", "gpt-4-32K", "gpt-4-32k"),
    ("azure_openai", "gpt-4-turbo128K", "gpt-4-turbo-128k"),
    ("azure_openai", "gpt-4-1106-preview", "gpt-4-1106-preview"),
    ("aws_bedrock", "Nova2.0Lite", "nova-2-lite"),
    ("aws_bedrock", "ClaudeOpus4.1", "claude-opus-4-1"),
    ("gcp_vertex", "gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
    ("gcp_gemini_api", "gemini-2.5-flash-preview", "gemini-2.5-flash-preview"),
    ("gcp_vertex", "gemini-2.5-pro-preview-06-05", "gemini-2.5-pro-preview-06-05"),
    ("azure_foundry", "Phi-4-reasoning-plus", "phi-4-reasoning-plus"),
    ("azure_foundry", "Llama 4 Maverick 17B", "llama-4-maverick-17b"),
]

# Unknown shapes come back lower-cased, never mapped to a similar model.
UNKNOWN_SHAPES = [
    ("aws_bedrock", "ClaudeInstant", "claudeinstant"),
    ("aws_bedrock", "Claude3.5SonnetV2", "claude3.5sonnetv2"),
    ("aws_bedrock", "anthropic.claude-v2:1", "anthropic.claude-v2:1"),
    ("aws_bedrock", "amazon.titan-text-express-v1", "amazon.titan-text-express-v1"),
    ("aws_bedrock", "mistral.mistral-large-2402-v1:0", "mistral.mistral-large-2402-v1:0"),
    ("aws_bedrock", "Claude 3.5 Sonnet v2", "claude 3.5 sonnet v2"),
    ("aws_bedrock", "NovaLite-Customization-Training", "novalite-customization-training"),
    (
        "gcp_vertex",
        "LLM Grounding with Google Search tool - Predictions",
        "llm grounding with google search tool - predictions",
    ),
    ("anthropic", "Claude Foo", "claude foo"),
    ("azure_foundry", "3.3 70b", "3.3-70b"),
    ("focus:Microsoft", "3.3 70b", "3.3 70b"),
    ("some_new_route", "Model X 2", "model x 2"),
]

ALL_CASES = CASES + LONGER_MODELS_KEPT + UNKNOWN_SHAPES


@pytest.mark.parametrize(("provider", "raw", "expected"), CASES)
def test_normalize_model(provider: str, raw: str, expected: str) -> None:
    assert normalize_model(provider=provider, model_raw=raw) == expected


@pytest.mark.parametrize(("provider", "raw", "expected"), LONGER_MODELS_KEPT)
def test_a_longer_model_is_never_shortened(provider: str, raw: str, expected: str) -> None:
    assert normalize_model(provider=provider, model_raw=raw) == expected


@pytest.mark.parametrize(("provider", "raw", "expected"), UNKNOWN_SHAPES)
def test_unknown_shapes_are_only_lower_cased(provider: str, raw: str, expected: str) -> None:
    assert normalize_model(provider=provider, model_raw=raw) == expected


@pytest.mark.parametrize(("provider", "raw", "expected"), ALL_CASES)
def test_normalizing_twice_changes_nothing(provider: str, raw: str, expected: str) -> None:
    assert normalize_model(provider=provider, model_raw=expected) == expected


def test_one_model_bought_through_every_route_gets_one_id() -> None:
    spellings = [
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("anthropic", "Claude Sonnet 4.5"),
        ("aws_bedrock", "Claude4.5Sonnet"),
        ("aws_bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("aws_bedrock", "Claude Sonnet 4.5"),
        ("gcp_vertex", "claude-sonnet-4-5@20250929"),
        ("azure_foundry", "Claude Sonnet 4.5"),
        ("focus:Anthropic", "claude-sonnet-4-5-20250929"),
    ]
    assert {normalize_model(provider=provider, model_raw=raw) for provider, raw in spellings} == {"claude-sonnet-4-5"}
