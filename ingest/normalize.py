"""Model-id normalization across buying routes (pure: no Django).

The ledger keeps the string as exported (``model_raw``) and a normalized id (``model``):
dated snapshots map to their family id, fine-tunes to their base model, and the spellings of
the cloud bills map to the vendor's family id, so one model bought through several routes
shares one id (reference/export-formats.md section 12).

Examples by route (raw ``model_raw`` -> normalized ``model``):

- openai: ``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``; ``ft:gpt-4o-2024-08-06:org:name:id`` -> ``gpt-4o``
- anthropic: ``claude-haiku-4-5-20251001`` -> ``claude-haiku-4-5``;
  ``Claude 3.5 Sonnet 2024-10-22`` -> ``claude-3-5-sonnet``
- aws_bedrock billing names: ``Claude4.6Sonnet``/``ClaudeSonnet4.6`` -> ``claude-sonnet-4-6``;
  ``Claude3.5Sonnet`` -> ``claude-3-5-sonnet``; ``NovaLite`` -> ``nova-lite``; ``Nova2.0Lite`` ->
  ``nova-2-lite``; ``openai.gpt-oss-120b`` -> ``gpt-oss-120b``; ``Llama3.3-70B`` -> ``llama-3.3-70b``
- aws_bedrock API/profile ids: ``us.anthropic.claude-sonnet-4-5-20250929-v1:0`` -> ``claude-sonnet-4-5``;
  ``amazon.nova-2-lite-v1:0`` -> ``nova-2-lite``; ``meta.llama3-3-70b-instruct-v1:0`` -> ``llama-3.3-70b``
- aws_bedrock marketplace: ``Claude Sonnet 4.5`` -> ``claude-sonnet-4-5``
- gcp_vertex / gcp_gemini_api: ``gemini-2.5-flash`` kept; ``gemini-2.0-flash-001`` -> ``gemini-2.0-flash``;
  ``claude-sonnet-4-5@20250929`` -> ``claude-sonnet-4-5``
- azure_openai: ``gpt 4o 0806`` -> ``gpt-4o``; ``gpt-4o-mini-0718`` -> ``gpt-4o-mini``; ``5.1 codex`` ->
  ``gpt-5.1-codex``; ``GPT 5`` -> ``gpt-5``; ``o4-mini 0416`` -> ``o4-mini``
- azure_foundry: ``Phi-4-mini-reasoning`` -> ``phi-4-mini-reasoning``; ``Grok-3 Mini`` -> ``grok-3-mini``;
  ``Llama 3.3 70B`` -> ``llama-3.3-70b``
- focus:<name>: whichever of the shapes above the ModelId or meter has; otherwise lower-cased

Claude ids follow Anthropic's two orders: Claude 3.x is version-first (``claude-3-5-sonnet``),
Claude 4 onward family-first (``claude-sonnet-4-5``); ``.0`` versions drop the ``-0``
(``claude-sonnet-4-0`` -> ``claude-sonnet-4``). Azure meter model parts are split into words and
letter/digit runs (``gpt4omini`` -> ``gpt 4o mini``), the ``MMDD`` version at the end is dropped, the
``gpt`` prefix is added to a bare GPT-5-family version (``5.1 codex``) and Azure's ``35`` is 3.5.

Nothing is matched by prefix, so a longer model never becomes a shorter one (``gpt 4o mini`` stays
``gpt-4o-mini``). A name of no known shape is returned lower-cased, never mapped to a similar model.
"""

from __future__ import annotations

import re

from ingest.parsers.anthropic import model_id_from_display_name

AZURE_PROVIDERS = frozenset({"azure_openai", "azure_foundry"})
GOOGLE_PROVIDERS = frozenset({"gcp_vertex", "gcp_gemini_api"})
FOCUS_PREFIX = "focus:"

_OPENAI_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2})$")
_ANTHROPIC_DATE_SUFFIX = re.compile(r"-(\d{8})$")
# Bedrock API-id version (``-v1:0``, ``-v2:0``, ``-v1``); Vertex publisher-model version (``@20250929``).
_BEDROCK_API_VERSION = re.compile(r"-v\d+(?::\d+)?$")
_VERTEX_VERSION = re.compile(r"^([a-z0-9][a-z0-9._-]*)@[a-z0-9._-]+$")

# Claude: version-first (``claude-3-5-sonnet``) or family-first (``claude-sonnet-4-5``), dots or hyphens.
_CLAUDE_VERSION = r"\d{1,2}(?:[.-]\d{1,2})?"
_CLAUDE_VERSION_FIRST = re.compile(rf"claude-({_CLAUDE_VERSION})-([a-z]+)")
_CLAUDE_FAMILY_FIRST = re.compile(rf"claude-([a-z]+)-({_CLAUDE_VERSION})")
_CLAUDE_NOT_FAMILIES = frozenset({"instant"})
_CLAUDE_FAMILY_FIRST_FROM = 4  # Claude 4 onward is named family-first

# Bedrock billing names in the usage type: ``Claude4.6Sonnet``, ``ClaudeHaiku4.5``, ``Nova2.0Lite``.
_BILLING_CLAUDE = re.compile(r"claude(\d{1,2}(?:\.\d{1,2})?)?([a-z]+?)(\d{1,2}(?:\.\d{1,2})?)?")
_BILLING_NOVA = re.compile(r"Nova(\d{1,2}(?:\.\d{1,2})?)?((?:[A-Z][a-z]+)+)")
_CAMEL_WORD = re.compile(r"[A-Z][a-z]+")
# Bedrock API ids and inference-profile ids: ``[geo.]vendor.model``.
_BEDROCK_ID = re.compile(r"(?:(?:us|us-gov|eu|apac|jp|au|ca|global|regional)\.)?(anthropic|amazon|meta|openai)\.(.+)")
_NOVA_ID = re.compile(r"(?:amazon[.-])?nova-(?:(\d{1,2}(?:\.\d{1,2})?)-)?([a-z]+(?:-[a-z]+)*)(?:-v\d+(?::\d+)?)?")
_OPENAI_ON_BEDROCK = re.compile(r"(gpt-[a-z0-9.-]*[a-z0-9])(?:-v?\d+:\d+)?")

# Llama on Bedrock (``meta.llama3-3-70b-instruct-v1:0``, billing ``Llama3.3-70B``) and Azure
# (``Llama 3.3 70B``, ``Llama3.3``, ``Meta-Llama-3.1-8B-Instruct``): one major digit, one minor digit.
_LLAMA = re.compile(r"(?:meta[-. ]?)?llama[- ]?(\d)(?:[.-](\d))?(?=$|[- ])((?:[- ][a-z0-9]+)*?)(?:-v\d+(?::\d+)?)?")
_LLAMA_DROPPED_WORDS = frozenset({"instruct"})

# Gemini: ``gemini-2.5-flash``, ``Gemini 2.5 Flash-Lite``; a ``-001`` stable-version suffix is dropped.
_GEMINI = re.compile(r"gemini-\d+(?:\.\d+)?(?:-[a-z0-9.]+)*")
_GEMINI_STABLE_VERSION = re.compile(r"-\d{3}$")

# Azure meter model parts: a version (``4o``, ``4.1``, ``128k``, ``120b``), an o-series name, or letters.
_METER_TOKEN = re.compile(r"\d+(?:\.\d+)?(?:o(?=mini|[^a-z]|$)|[kb](?![a-z]))?|o\d+(?![\d.])|[a-z]+")
_METER_SEPARATORS = re.compile(r"[\s_-]+")
_O_SERIES = re.compile(r"o\d+")
_GPT5_BARE_VERSION = re.compile(r"[5-9](?:\.\d+)?")  # GPT-5-family meters omit ``gpt``: ``5.1 codex``
_MMDD = re.compile(r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
_AZURE_SPELLINGS = {"35": "3.5"}  # Azure spells GPT-3.5 ``gpt-35``: deployment names allow no dots
# Token-modality words a meter may put after the version (``gpt aud 0828 txt``: the text tokens of gpt-audio).
_MODALITY_WORDS = frozenset({"txt", "text", "aud", "audio", "img", "image"})


def normalize_model(*, provider: str, model_raw: str) -> str:
    """The normalized model id for ``model_raw`` as exported by ``provider``.

    ``provider`` is the ledger's route name (``openai``, ``anthropic``, ``aws_bedrock``,
    ``gcp_vertex``, ``gcp_gemini_api``, ``azure_openai``, ``azure_foundry``, ``focus:<name>``).
    A name of no known shape comes back lower-cased, so it can be reviewed rather than priced
    as a similar model.
    """
    model = model_raw.strip().lower()
    if provider == "openai":
        if model.startswith("ft:"):
            model = model.split(":")[1]
        elif model.startswith("ft-"):  # cost-export spelling of a fine-tune: ft-<base>
            model = model[3:]
        return _OPENAI_DATE_SUFFIX.sub("", model)
    if provider == "anthropic":
        return _claude(model_raw) or _ANTHROPIC_DATE_SUFFIX.sub("", model)
    if provider == "aws_bedrock":
        return _bedrock(model_raw) or model
    if provider in GOOGLE_PROVIDERS:
        return _google(model_raw) or model
    if provider in AZURE_PROVIDERS:
        return _azure(model_raw, openai_route=provider == "azure_openai")
    if provider.startswith(FOCUS_PREFIX):
        return _any_route(model_raw) or model
    return model


# --- routes ---


def _bedrock(raw: str) -> str | None:
    """Bedrock API/profile ids, usage-type billing names and marketplace display names."""
    return _bedrock_id(raw) or _billing_name(raw) or _claude(raw) or _nova_id(raw) or _llama(raw)


def _google(raw: str) -> str | None:
    """Gemini ids and Vertex publisher-model ids (``claude-sonnet-4-5@20250929``: the ``@`` version dropped)."""
    key = _squash(raw)
    versioned = _VERTEX_VERSION.fullmatch(key)
    if versioned:
        key = versioned.group(1)
    return _gemini(key) or _claude(key) or (key if versioned else None)


def _azure(raw: str, *, openai_route: bool) -> str:
    """Azure meter model parts; models outside OpenAI's naming are lower-cased with spaces as ``-``."""
    known = _claude(raw) or _llama(raw) or _openai_meter(raw, bare_version=openai_route)
    return known or re.sub(r"-{2,}", "-", re.sub(r"\s+", "-", raw.strip().lower()))


def _any_route(raw: str) -> str | None:
    """FOCUS rows may come from any route: the first known shape wins, or None."""
    return (
        _bedrock_id(raw)
        or _claude(raw)
        or _google(raw)
        or _llama(raw)
        or _billing_name(raw)
        or _openai_meter(raw, bare_version=True)
    )


# --- shapes ---


def _squash(text: str) -> str:
    """Lower-cased, trimmed, inner whitespace collapsed to one space."""
    return " ".join(text.lower().split())


def _version_parts(version: str) -> list[str]:
    """``4.5`` -> ``["4", "5"]``; ``4.0`` and ``4-0`` -> ``["4"]`` (the ``.0`` release is the family)."""
    parts = re.split(r"[.-]", version)
    return parts[:1] if len(parts) == 2 and int(parts[1]) == 0 else parts


def _claude_id(family: str, version: str) -> str | None:
    if family in _CLAUDE_NOT_FAMILIES:
        return None
    parts = _version_parts(version)
    if int(parts[0]) >= _CLAUDE_FAMILY_FIRST_FROM:
        return "-".join(["claude", family, *parts])
    return "-".join(["claude", *parts, family])


def _claude(raw: str) -> str | None:
    """A Claude API id, Bedrock/Vertex id (suffixes dropped) or Console display name, as the family id."""
    key = _squash(raw)
    display_id = None
    if key.startswith("claude "):
        display_id = model_id_from_display_name(key)
        if display_id is None:
            return None
        key = display_id
    versioned = _VERTEX_VERSION.fullmatch(key)
    if versioned:
        key = versioned.group(1)
    key = _ANTHROPIC_DATE_SUFFIX.sub("", _BEDROCK_API_VERSION.sub("", key))
    model = None
    if version_first := _CLAUDE_VERSION_FIRST.fullmatch(key):
        model = _claude_id(version_first.group(2), version_first.group(1))
    elif family_first := _CLAUDE_FAMILY_FIRST.fullmatch(key):
        model = _claude_id(family_first.group(1), family_first.group(2))
    if model is None and display_id is not None:  # an irregular display name (``Claude 2.1``)
        return _ANTHROPIC_DATE_SUFFIX.sub("", display_id)
    return model


def _billing_name(raw: str) -> str | None:
    """Bedrock usage-type billing names: ``Claude4.6Sonnet``, ``ClaudeHaiku4.5``, ``NovaLite``, ``Nova2.0Lite``."""
    text = raw.strip()
    claude = _BILLING_CLAUDE.fullmatch(text.lower())
    if claude:
        before, family, after = claude.groups()
        if (before is None) == (after is None):  # a version on exactly one side of the family
            return None
        return _claude_id(family, before or after)
    nova = _BILLING_NOVA.fullmatch(text)
    if nova:
        version, tier = nova.groups()
        words = [word.lower() for word in _CAMEL_WORD.findall(tier)]
        return "-".join(["nova", *(_version_parts(version) if version else []), *words])
    return None


def _bedrock_id(raw: str) -> str | None:
    """``[geo.]vendor.model`` ids of the vendors whose model part names the family; others are None."""
    match = _BEDROCK_ID.fullmatch(raw.strip().lower())
    if match is None:
        return None
    vendor, model = match.groups()
    if vendor == "anthropic":
        return _claude(model)
    if vendor == "amazon":
        return _nova_id(model)
    if vendor == "meta":
        return _llama(model)
    openai = _OPENAI_ON_BEDROCK.fullmatch(model)
    return openai.group(1) if openai else None


def _nova_id(raw: str) -> str | None:
    """``nova-lite``, ``amazon.nova-2-lite-v1:0``, ``amazon-nova-pro``, ``nova-micro-v1`` -> ``nova-…``."""
    match = _NOVA_ID.fullmatch(raw.strip().lower())
    if match is None:
        return None
    version, tier = match.groups()
    return "-".join(["nova", *(_version_parts(version) if version else []), tier])


def _llama(raw: str) -> str | None:
    """``Llama3.3-70B``, ``Llama 3.3 70B``, ``meta.llama3-3-70b-instruct-v1:0`` -> ``llama-3.3-70b``."""
    match = _LLAMA.fullmatch(_squash(raw))
    if match is None:
        return None
    major, minor, rest = match.groups()
    version = f"{major}.{minor}" if minor else major
    words = [word for word in re.split(r"[- ]", rest) if word and word not in _LLAMA_DROPPED_WORDS]
    return "-".join(["llama", version, *words])


def _gemini(raw: str) -> str | None:
    """``gemini-2.5-flash`` kept; ``Gemini 2.5 Flash`` spelled with hyphens; ``-001`` dropped."""
    key = _squash(raw).replace(" ", "-")
    if not _GEMINI.fullmatch(key):
        return None
    return _GEMINI_STABLE_VERSION.sub("", key)


def _openai_meter(raw: str, *, bare_version: bool) -> str | None:
    """An OpenAI model as Azure meters (or OpenAI ids) spell it, or None when it is not one.

    ``gpt 4o 0806`` -> ``gpt-4o``; ``gpt4omini-aud1217`` -> ``gpt-4o-mini-aud``; ``5.1 codex`` ->
    ``gpt-5.1-codex`` (only when ``bare_version``); ``o4-mini 0416`` -> ``o4-mini``;
    ``gpt-35-turbo-16k`` -> ``gpt-3.5-turbo-16k``. Only the last ``MMDD`` is dropped, and only when
    nothing but modality words follow it (``gpt aud 0828 txt`` -> ``gpt-aud-txt``, while
    ``gpt-4-1106-preview`` stays); every other word is kept.
    """
    key = _OPENAI_DATE_SUFFIX.sub("", _squash(raw))
    tokens: list[str] = []
    for word in _METER_SEPARATORS.split(key):
        parts = _METER_TOKEN.findall(word)
        if "".join(parts) != word:
            return None
        tokens.extend(parts)
    if not tokens:
        return None
    if tokens[0] == "gpt":
        tokens[1:2] = [_AZURE_SPELLINGS.get(token, token) for token in tokens[1:2]]
    elif bare_version and _GPT5_BARE_VERSION.fullmatch(tokens[0]):
        tokens.insert(0, "gpt")
    elif not _O_SERIES.fullmatch(tokens[0]):
        return None
    for index in range(len(tokens) - 1, 0, -1):
        if _MMDD.fullmatch(tokens[index]):
            del tokens[index]
            break
        if tokens[index] not in _MODALITY_WORDS:
            break
    return "-".join(tokens)
