"""AWS Cost and Usage Report 2.0 (Data Exports, snake_case columns) as CSV: Amazon Bedrock rows.

The parsing is shared with the legacy CUR in ``aws`` (reference/export-formats.md section 8). CUR 2.0
specifics: ``resource_tags`` and ``product`` are map columns written as JSON (``{"user_team":"search"}``)
or Athena text; Athena/Parquet flattenings with ``resource_tags_user_*`` columns are read too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from ingest.parsers.aws import CurColumns, parse_cur
from ingest.parsers.base import CanonicalRecord, ParseStats

NAME = "aws_cur2"
LABEL = "AWS Cost and Usage Report 2.0"
SIGNATURE = frozenset({"line_item_usage_type", "line_item_unblended_cost", "line_item_usage_start_date"})

COLUMNS = CurColumns(
    start="line_item_usage_start_date",
    end="line_item_usage_end_date",
    line_item_type="line_item_line_item_type",
    product_code="line_item_product_code",
    service_code="product_servicecode",
    product_name="product_product_name",
    usage_type="line_item_usage_type",
    usage_amount="line_item_usage_amount",
    pricing_unit="pricing_unit",
    unblended_cost="line_item_unblended_cost",
    net_unblended_cost="line_item_net_unblended_cost",
    currency="line_item_currency_code",
    account="line_item_usage_account_id",
    resource_id="line_item_resource_id",
    region="product_region_code",
    version="CUR 2.0",
    iam_principal="line_item_iam_principal",
    product_map="product",
    tag_map="resource_tags",
    tag_prefix="resource_tags_",
)


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one record per Bedrock row (tokens or ``other``); raise IngestError on any bad Bedrock row."""
    return parse_cur(text, stats, COLUMNS)
