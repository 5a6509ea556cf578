"""AWS legacy Cost and Usage Report (CUR 1, ``lineItem/…`` columns) as CSV: Amazon Bedrock rows.

The parsing is shared with CUR 2.0 in ``aws`` (reference/export-formats.md section 8). Legacy
specifics: tags are one ``resourceTags/user:<key>`` column per tag; the key keeps its case as written
(``user:team``). Headers are matched lower-cased, errors name the columns as written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from ingest.parsers.aws import CurColumns, parse_cur
from ingest.parsers.base import CanonicalRecord, ParseStats

NAME = "aws_cur_legacy"
LABEL = "AWS legacy Cost and Usage Report"
SIGNATURE = frozenset({"lineitem/usagetype", "lineitem/unblendedcost", "lineitem/usagestartdate"})

COLUMNS = CurColumns(
    start="lineitem/usagestartdate",
    end="lineitem/usageenddate",
    line_item_type="lineitem/lineitemtype",
    product_code="lineitem/productcode",
    service_code="product/servicecode",
    product_name="product/productname",
    usage_type="lineitem/usagetype",
    usage_amount="lineitem/usageamount",
    pricing_unit="pricing/unit",
    unblended_cost="lineitem/unblendedcost",
    net_unblended_cost="lineitem/netunblendedcost",
    currency="lineitem/currencycode",
    account="lineitem/usageaccountid",
    resource_id="lineitem/resourceid",
    region="product/regioncode",
    version="legacy CUR (CUR 1)",
    tag_prefix="resourcetags/",
)


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one record per Bedrock row (tokens or ``other``); raise IngestError on any bad Bedrock row."""
    return parse_cur(text, stats, COLUMNS)
