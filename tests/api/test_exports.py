"""CSV and Excel exports: ``?format=csv`` / ``?format=xlsx`` on list and summary endpoints, as attachments, with
formula cells escaped and numbers kept numbers; a POST field named ``format`` is not the export switch."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from finops.api.renderers import export_cell, export_rows, formula_escape
from tests.api.conftest import OPENAI_USAGE
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def xlsx_rows(response) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# Renderer rules


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-1+cmd", "'-1+cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=1", "''=1"),
        ("-12.50", Decimal("-12.50")),
        ("1495.84", Decimal("1495.84")),
        ("000123", "000123"),
        ("Search", "Search"),
        (42, 42),
        (None, None),
    ],
)
def test_a_cell_is_escaped_when_a_spreadsheet_would_run_it_and_numbers_stay_numbers(value, cell) -> None:
    assert export_cell(value) == cell


def test_formula_escape_adds_one_quote() -> None:
    assert formula_escape("=1") == "'=1"


def test_rows_come_from_results_a_list_or_the_one_list_of_a_dict() -> None:
    paginated = {"count": 1, "next": None, "previous": None, "results": [{"a": 1, "b": {"c": 2}}]}
    summary = {"organization": "acme", "group_by": ["model"], "results": [{"model": "gpt-4o", "tokens": 5}]}
    compared = {"a": 1, "b": 2, "level": "team", "months": [{"key": "Search", "tokens_a": 3}]}

    assert export_rows(paginated) == [{"a": 1, "b.c": 2}]
    assert export_rows([{"a": [1, 2]}]) == [{"a": "1; 2"}]
    assert export_rows(summary) == [{"organization": "acme", "model": "gpt-4o", "tokens": 5}]
    assert export_rows(compared) == [{"a": 1, "b": 2, "level": "team", "key": "Search", "tokens_a": 3}]
    assert export_rows({"token": "x"}) == [{"token": "x"}]


# Endpoints


def test_teams_as_csv_escape_a_formula_name(api_client_for, viewer, organization) -> None:
    TeamFactory(organization=organization, name='=HYPERLINK("http://evil")', slug="evil")

    response = api_client_for(viewer).get("/api/v1/teams/", {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="tokencast-teams-')
    assert response["Content-Disposition"].endswith('.csv"')
    (row,) = csv_rows(response)
    assert (row["organization"], row["slug"], row["name"]) == ("acme", "evil", '\'=HYPERLINK("http://evil")')


def test_budget_statuses_as_xlsx_keep_numbers_numeric(api_client_for, viewer, acme_data) -> None:
    response = api_client_for(viewer).get("/api/v1/budgets/status/", {"format": "xlsx", "period": "2026-02-15"})

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"].startswith('attachment; filename="tokencast-budgets-status-')
    header, *rows = xlsx_rows(response)
    assert header[:4] == ["budget", "organization", "name", "period_start"]
    (row,) = rows
    cells = dict(zip(header, row, strict=True))
    assert (cells["name"], cells["amount"], cells["currency"], cells["state"]) == ("Search monthly", 300, "USD", "ok")
    assert isinstance(cells["amount"], int | float)


def test_a_forecast_s_months_per_level_export_one_row_per_level_key_and_month(
    api_client_for, viewer, acme_data
) -> None:
    response = api_client_for(viewer).get(f"/api/v1/forecasts/{acme_data.run.pk}/months/", {"format": "csv"})

    rows = csv_rows(response)
    assert [(row["level"], row["key"], row["month"], row["cost"]) for row in rows] == [
        ("organization", "", "2026-04", "1495.84"),
        ("organization", "", "2026-05", "1496.84"),
        ("team", "Search", "2026-04", "1495.84"),
        ("team", "Search", "2026-05", "1496.84"),
    ]
    assert rows[0]["run"] == str(acme_data.run.pk)
    assert rows[0]["tokens_by_type.input"] == "800000"


def test_one_level_of_a_forecast_s_months(api_client_for, viewer, acme_data) -> None:
    response = api_client_for(viewer).get(f"/api/v1/forecasts/{acme_data.run.pk}/months/", {"level": "team"})

    assert [(row["level"], row["key"]) for row in response.json()["results"]] == [("team", "Search")] * 2


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/uploads/",
        "/api/v1/teams/",
        "/api/v1/budgets/",
        "/api/v1/budgets/status/",
        "/api/v1/recommendations/",
        "/api/v1/alerts/",
        "/api/v1/forecasts/",
        "/api/v1/allocation-rules/",
        "/api/v1/scenarios/",
        "/api/v1/members/",
        "/api/v1/organizations/",
        "/api/v1/usage/summary/",
    ],
)
@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_every_list_and_summary_exports(api_client_for, admin, acme_data, other_data, path, export) -> None:
    response = api_client_for(admin).get(path, {"format": export})

    assert response.status_code == 200, response.content[:300]
    assert response["Content-Disposition"].endswith(f'.{export}"')
    rows = csv_rows(response) if export == "csv" else xlsx_rows(response)[1:]
    assert rows  # acme's data only: the other organization's stays out
    assert "other" not in {str(cell) for row in rows for cell in (row.values() if isinstance(row, dict) else row)}


def test_recommendations_as_csv_carry_rounded_money(api_client_for, viewer, acme_data) -> None:
    (row,) = csv_rows(api_client_for(viewer).get("/api/v1/recommendations/", {"format": "csv"}))

    assert (row["monthly_savings"], row["twelve_month_savings"], row["currency"]) == ("120.50", "1446.00", "USD")


def test_uploads_as_csv_flatten_the_summary(api_client_for, viewer, acme_data) -> None:
    (row,) = csv_rows(api_client_for(viewer).get("/api/v1/uploads/", {"format": "csv"}))

    assert (row["original_name"], row["status"], row["summary.tokens.input"]) == (
        OPENAI_USAGE.name,
        "succeeded",
        "31422",
    )


def test_an_export_without_a_limit_takes_the_largest_page(api_client_for, viewer, organization) -> None:
    for number in range(120):
        TeamFactory(organization=organization, name=f"Team {number:03}", slug=f"team-{number:03}")

    exported = csv_rows(api_client_for(viewer).get("/api/v1/teams/", {"format": "csv"}))
    page = api_client_for(viewer).get("/api/v1/teams/").json()

    assert (len(exported), len(page["results"]), page["count"]) == (120, 100, 120)


def test_an_upload_form_field_named_format_picks_the_file_format_not_the_answer(
    api_client_for, analyst, organization
) -> None:
    response = api_client_for(analyst).post(
        "/api/v1/uploads/",
        {
            "file": SimpleUploadedFile(OPENAI_USAGE.name, OPENAI_USAGE.read_bytes()),
            "organization": "acme",
            "format": "openai_usage",
        },
        format="multipart",
    )

    assert response.status_code == 202
    assert response["Content-Type"] == "application/json"
    assert response.json()["format"] == "openai_usage"


def test_uploads_filter_by_file_format(api_client_for, viewer, acme_data) -> None:
    client = api_client_for(viewer)

    found = client.get("/api/v1/uploads/", {"file_format": "openai_usage"}).json()["results"]
    none = client.get("/api/v1/uploads/", {"file_format": "aws_cur"}).json()["results"]

    assert ([upload["id"] for upload in found], none) == ([acme_data.upload.pk], [])
