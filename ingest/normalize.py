"""Model-id normalization across buying routes (pure: no Django).

The ledger keeps the string as exported (``model_raw``) and a normalized id (``model``):
dated snapshots map to their family id, fine-tunes to their base model.
"""

from __future__ import annotations

import re

from ingest.parsers.anthropic import model_id_from_display_name

_OPENAI_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2})$")
_ANTHROPIC_DATE_SUFFIX = re.compile(r"-(\d{8})$")


def normalize_model(*, provider: str, model_raw: str) -> str:
    """The normalized model id for ``model_raw`` as exported by ``provider``."""
    model = model_raw.strip().lower()
    if provider == "openai":
        if model.startswith("ft:"):
            model = model.split(":")[1]
        elif model.startswith("ft-"):  # cost-export spelling of a fine-tune: ft-<base>
            model = model[3:]
        return _OPENAI_DATE_SUFFIX.sub("", model)
    if provider == "anthropic":
        if " " in model:  # a Console display name such as "Claude Sonnet 4.5"
            model = model_id_from_display_name(model_raw) or model
        return _ANTHROPIC_DATE_SUFFIX.sub("", model)
    return model
