"""planning/budget_csv.py and the budgets_import / budgets_export commands: round trips, all-or-nothing imports
with row-numbered messages, hostile files, and spreadsheet-formula escaping."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.models import Organization, Team
from planning.budget_csv import (
    MAX_ROWS,
    BudgetImportError,
    budgets_export,
    budgets_import,
    formula_escape,
    formula_unescape,
)
from planning.models import Budget
from planning.services import budget_save
from tests.factories import MembershipFactory, OrganizationFactory, TeamFactory

pytestmark = pytest.mark.django_db

HEADER = "name,team,provider,model,period,starts_on,ends_on,amount,currency,owners,thresholds,overrun_alert_probability"


@pytest.fixture
def platform(organization: Organization) -> Team:
    return Team.objects.create(organization=organization, name="Platform", slug="platform")


@pytest.fixture
def alice(organization: Organization) -> Any:
    return MembershipFactory(organization=organization, user__username="alice").user


def import_text(organization: Organization, text: str) -> Any:
    return budgets_import(organization=organization, lines=io.StringIO(text), filename="budgets.csv")


def rejection(organization: Organization, content: str | bytes) -> list[str]:
    """The messages of an import that must be rejected."""
    lines: Any = content if isinstance(content, bytes) else io.StringIO(content)
    with pytest.raises(BudgetImportError) as caught:
        budgets_import(organization=organization, lines=lines, filename="budgets.csv")
    return [str(error) for error in caught.value.errors]


def snapshot(organization: Organization) -> list[tuple[Any, ...]]:
    """Every field of every budget of the organization, owners included, comparable across re-creation."""
    return [
        (
            budget.name,
            budget.team_id,
            budget.provider,
            budget.model,
            budget.period,
            budget.starts_on,
            budget.ends_on,
            budget.amount,
            budget.currency,
            sorted((owner.user_id or 0, owner.email) for owner in budget.owners.all()),
            budget.thresholds,
            budget.overrun_alert_probability,
        )
        for budget in Budget.objects.filter(organization=organization).order_by("name")
    ]


@pytest.fixture
def budgets(organization: Organization, platform: Team, alice: Any) -> list[Budget]:
    """Budgets using every column, some with values a spreadsheet would run as formulas."""
    return [
        budget_save(
            organization=organization,
            data={
                "name": "Platform quarterly",
                "team": platform,
                "provider": "openai",
                "model": "gpt-4o",
                "period": "quarter",
                "starts_on": date(2025, 1, 1),
                "ends_on": date(2025, 12, 31),
                "amount": Decimal("12500.50"),
                "currency": "EUR",
                "owners": ["alice", "CFO@example.com"],
                "thresholds": [0.5, 0.8, 1.25],
                "overrun_alert_probability": 0.7,
            },
        ),
        budget_save(
            organization=organization,
            data={"name": "Whole org", "starts_on": "2025-01-01", "amount": "900"},
        ),
        budget_save(
            organization=organization,
            data={
                "name": '=HYPERLINK("http://evil.example","click")',
                "provider": "@provider",
                "model": "-preview",
                "period": "year",
                "starts_on": "2025-01-01",
                "amount": "0",
                "thresholds": "1",
                "overrun_alert_probability": "0.123456789",
            },
        ),
        budget_save(
            organization=organization,
            data={
                "name": "+plus, quoted 'already'",
                "model": "'=already escaped",
                "starts_on": "2026-02-01",
                "amount": "1",
            },
        ),
    ]


def test_export_then_import_round_trips_to_identical_budgets(organization: Organization, budgets: list[Budget]) -> None:
    # given the budgets exported
    before = snapshot(organization)
    exported = budgets_export(organization=organization)
    Budget.objects.filter(organization=organization).delete()

    # when the export is imported into the emptied organization
    result = import_text(organization, exported)

    # then the same budgets exist again and export to the same text
    assert (result.created, result.updated, result.rows) == (4, 0, 4)
    assert snapshot(organization) == before
    assert budgets_export(organization=organization) == exported


def test_importing_an_export_again_updates_every_budget_and_changes_nothing(
    organization: Organization, budgets: list[Budget]
) -> None:
    before = snapshot(organization)

    result = import_text(organization, budgets_export(organization=organization))

    assert (result.created, result.updated, result.rows) == (0, 4, 4)
    assert snapshot(organization) == before


def test_export_writes_one_row_per_budget_with_formulas_escaped(
    organization: Organization, budgets: list[Budget]
) -> None:
    assert budgets_export(organization=organization).splitlines() == [
        HEADER,
        "\"'+plus, quoted 'already'\",,,''=already escaped,month,2026-02-01,,1.00,USD,,0.8; 1.0,0.5",
        '"\'=HYPERLINK(""http://evil.example"",""click"")",,\'@provider,\'-preview,year,2025-01-01,,0.00,USD,,'
        "1.0,0.123456789",
        "Platform quarterly,platform,openai,gpt-4o,quarter,2025-01-01,2025-12-31,12500.50,EUR,"
        "alice; cfo@example.com,0.5; 0.8; 1.25,0.7",
        "Whole org,,,,month,2025-01-01,,900.00,USD,,0.8; 1.0,0.5",
    ]


def test_export_of_an_organization_without_budgets_is_the_header_and_imports_to_nothing(
    organization: Organization,
) -> None:
    exported = budgets_export(organization=organization)

    result = import_text(organization, exported)

    assert exported == HEADER + "\n"
    assert (result.created, result.updated, result.rows) == (0, 0, 0)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=1", "''=1"),
        ("''-x", "'''-x"),
        ("'plain", "'plain"),
        ("'", "'"),
        ("plain = text", "plain = text"),
        ("0.5", "0.5"),
        ("", ""),
    ],
)
def test_formula_escape_adds_one_quote_that_unescape_takes_off(value: str, escaped: str) -> None:
    assert formula_escape(value) == escaped
    assert formula_unescape(escaped) == value


def test_import_creates_and_updates_by_name_and_keeps_columns_the_file_lacks(
    organization: Organization, budgets: list[Budget]
) -> None:
    # given a file with only the required columns, headed in another case and with spaces
    text = (
        " Name , STARTS_ON,Amount \n"
        "Platform quarterly,2025-01-01,20000\n"
        "New one,2025-03-01,'+5\n"
        "\n"
        "New two,2025-04-01,7\n"
    )

    # when it is imported
    result = import_text(organization, text)

    # then the known budget gets the new amount and keeps the rest; the others are created with the defaults
    assert (result.created, result.updated, result.rows) == (2, 1, 3)
    platform = Budget.objects.get(organization=organization, name="Platform quarterly")
    assert (platform.amount, platform.currency, platform.period, platform.thresholds) == (
        Decimal("20000.00"),
        "EUR",
        "quarter",
        [0.5, 0.8, 1.25],
    )
    assert sorted(owner.address for owner in platform.owners.all()) == ["alice@example.com", "cfo@example.com"]
    new = Budget.objects.get(organization=organization, name="New one")
    assert (new.amount, new.currency, new.team_id, new.thresholds) == (Decimal("5.00"), "USD", None, [0.8, 1.0])
    assert Budget.objects.filter(organization=organization).count() == 6


def test_a_file_with_bad_rows_is_rejected_whole_with_every_message(
    organization: Organization, budgets: list[Budget], platform: Team
) -> None:
    # given a file with good rows and several bad ones
    before = snapshot(organization)
    text = (
        "name,team,starts_on,amount,currency\n"
        "Whole org,,2025-01-01,1000,USD\n"
        "Brand new,platform,2025-01-01,-5,USD\n"
        'Bad,nobody,2025-01-15,"lots",XYZ\n'
        "Whole org,,2025-01-01,1,USD\n"
        "Fine,platform,2025-01-01,10,GBP\n"
    )

    # when it is imported
    with pytest.raises(BudgetImportError) as caught:
        import_text(organization, text)

    # then every problem is reported by row and column, and nothing changed
    assert [str(error) for error in caught.value.errors] == [
        "row 3, column 'amount': must not be negative, got -5",
        "row 4, column 'team': no team 'nobody' in acme (give its slug or name)",
        "row 4, column 'starts_on': a budget period starts on the first day of a month, not 2025-01-15",
        "row 4, column 'amount': expected a number, got 'lots'",
        "row 4, column 'currency': unknown currency 'XYZ'; expected an ISO code such as USD, EUR, GBP",
        "row 5, column 'name': budget 'Whole org' is already on row 2; give each budget one row",
    ]
    assert snapshot(organization) == before
    assert not Budget.objects.filter(name__in=["Brand new", "Fine"]).exists()


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"amount": "-5"}, "row 2, column 'amount': must not be negative, got -5"),
        ({"amount": "ten"}, "row 2, column 'amount': expected a number, got 'ten'"),
        (
            {"amount": "1.005"},
            "row 2, column 'amount': expected at most 2 decimals and below 9999999999999999.99, got 1.005",
        ),
        (
            {"currency": "DOGE"},
            "row 2, column 'currency': unknown currency 'DOGE'; expected an ISO code such as USD, EUR, GBP",
        ),
        ({"ends_on": "2024-12-31"}, "row 2, column 'ends_on': ends before it starts (2024-12-31 < 2025-01-01)"),
        ({"starts_on": "01/01/2025"}, "row 2, column 'starts_on': expected a date as YYYY-MM-DD, got '01/01/2025'"),
        ({"team": "rival-ml"}, "row 2, column 'team': no team 'rival-ml' in acme (give its slug or name)"),
        ({"team": "Rival ML"}, "row 2, column 'team': no team 'Rival ML' in acme (give its slug or name)"),
        ({"team": "ghosts"}, "row 2, column 'team': no team 'ghosts' in acme (give its slug or name)"),
        ({"owners": "cfo@@example.com"}, "row 2, column 'owners': 'cfo@@example.com' is not an e-mail address"),
        (
            {"owners": "finance team"},
            "row 2, column 'owners': 'finance team' is not an e-mail address or the username of a member of acme",
        ),
        (
            {"owners": "rival-admin"},
            "row 2, column 'owners': 'rival-admin' is not an e-mail address or the username of a member of acme",
        ),
        (
            {"thresholds": "0.8; 11"},
            "row 2, column 'thresholds': fractions of the amount between 0 and 10: threshold 11.0 is out of range: "
            "it must be above 0 and at most 10",
        ),
        (
            {"thresholds": "0"},
            "row 2, column 'thresholds': fractions of the amount between 0 and 10: threshold 0.0 is out of range: "
            "it must be above 0 and at most 10",
        ),
        ({"period": "week"}, "row 2, column 'period': expected one of month, quarter, year, got 'week'"),
        (
            {"overrun_alert_probability": "1.5"},
            "row 2, column 'overrun_alert_probability': expected a probability between 0 and 1 (exclusive), got '1.5'",
        ),
        ({"name": " "}, "row 2, column 'name': required, at most 200 characters"),
    ],
)
def test_each_bad_value_is_refused_with_its_row_and_column(
    organization: Organization, platform: Team, cells: dict[str, str], expected: str
) -> None:
    # given another organization with a team and an admin of its own
    rival = OrganizationFactory(slug="rival")
    TeamFactory(organization=rival, name="Rival ML", slug="rival-ml")
    MembershipFactory(organization=rival, user__username="rival-admin")
    row = {
        "name": "Budget",
        "team": "platform",
        "period": "month",
        "starts_on": "2025-01-01",
        "ends_on": "",
        "amount": "100",
        "currency": "USD",
        "owners": "cfo@example.com",
        "thresholds": "0.8; 1.0",
        "overrun_alert_probability": "0.5",
        **cells,
    }
    text = ",".join(row) + "\n" + ",".join(row.values()) + "\n"

    assert rejection(organization, text) == [expected]
    assert not Budget.objects.exists()


def test_a_good_row_of_the_same_shape_is_accepted(organization: Organization, platform: Team, alice: Any) -> None:
    text = (
        "name,team,period,starts_on,ends_on,amount,currency,owners,thresholds,overrun_alert_probability\n"
        'Budget,Platform,Quarter,2025-01-01,2025-12-31,"1,250.75",eur,alice; CFO@example.com,"1.0, 0.8",0.25\n'
    )

    import_text(organization, text)

    budget = Budget.objects.get(organization=organization)
    assert (budget.team, budget.period, budget.amount, budget.currency, budget.thresholds) == (
        platform,
        "quarter",
        Decimal("1250.75"),
        "EUR",
        [0.8, 1.0],
    )
    assert sorted((owner.user_id or 0, owner.email) for owner in budget.owners.all()) == [
        (0, "cfo@example.com"),
        (alice.pk, ""),
    ]


BAD_FILES: dict[str, tuple[str | bytes, list[str]]] = {
    "empty": (b"", [f"row 1: the file is empty; expected the header {HEADER}"]),
    "only blank lines": ("\n \n,,\n", [f"row 1: the file is empty; expected the header {HEADER}"]),
    "blank first row": (
        "\nname,starts_on,amount\nA,2025-01-01,1\n",
        [f"row 1: row 1 is blank; the header must come first: {HEADER}"],
    ),
    "no header": (
        "Ops,2025-01-01,100\n",
        [f"row 1: the first row is not a header (it names no known column); expected {HEADER}"],
    ),
    "unknown and repeated columns": (
        "name,starts_on,amount,Cost Center,amount,\nA,2025-01-01,1,x,1,\n",
        [
            f"row 1: unknown column(s) 'cost center', ''; the columns are {HEADER}",
            "row 1: repeated column(s) amount; give each column once",
        ],
    ),
    "missing required columns": (
        "name,team\nA,platform\n",
        ["row 1: missing column(s) starts_on, amount; name, starts_on, amount are required"],
    ),
    "more cells than the header": (
        "name,starts_on,amount\nA,2025-01-01,1\nMarketing, EU,2025-01-01,5\nB,2025-01-01,2,\n",
        ["row 3: has 4 cells, more than the 3 in the header", "row 4: has 4 cells, more than the 3 in the header"],
    ),
    "broken quoting": (
        'name,starts_on,amount\nA,2025-01-01,1\n"B,2025-01-01,2\nC,2025-01-01,3\n',
        ["row 3: broken CSV (unexpected end of data); the file may be cut off inside a quoted value"],
    ),
    "not UTF-8": (
        b"name,starts_on,amount\nCaf\xe9,2025-01-01,1\n",
        ["the file is not UTF-8 text (byte 25); save it as UTF-8 CSV"],
    ),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00", ["the file is binary, not text; expected a CSV file (UTF-8 text)"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_hostile_file_is_rejected_with_its_message_and_nothing_saved(
    organization: Organization, budgets: list[Budget], case: str
) -> None:
    content, expected = BAD_FILES[case]
    before = snapshot(organization)

    assert rejection(organization, content) == expected
    assert snapshot(organization) == before


def test_a_text_stream_that_is_not_utf8_names_the_byte(organization: Organization, tmp_path: Path) -> None:
    path = tmp_path / "budgets.csv"
    path.write_bytes(b"name,starts_on,amount\n" + b"x" * 9000 + b"\xff,2025-01-01,1\n")

    with path.open(encoding="utf-8") as stream, pytest.raises(BudgetImportError) as caught:
        budgets_import(organization=organization, lines=stream, filename=path.name)

    assert [str(error) for error in caught.value.errors] == [
        "the file is not UTF-8 text (byte 9022); save it as UTF-8 CSV"
    ]


def test_a_byte_order_mark_is_fine(organization: Organization) -> None:
    content = "\ufeffname,starts_on,amount\nCafé,2025-01-01,1\n".encode()

    budgets_import(organization=organization, lines=content, filename="budgets.csv")
    budgets_import(organization=organization, lines=content.decode().splitlines(keepends=True), filename="budgets.csv")

    assert list(Budget.objects.values_list("name", flat=True)) == ["Café"]


def test_a_quoted_cell_across_lines_counts_rows_from_its_first_line(organization: Organization) -> None:
    text = 'name,starts_on,amount\n"Two\nlines",2025-01-01,1\nB,2025-01-02,1\n'

    assert rejection(organization, text) == [
        "row 4, column 'starts_on': a budget period starts on the first day of a month, not 2025-01-02"
    ]


def test_more_than_the_row_limit_is_refused(organization: Organization) -> None:
    text = "name,starts_on,amount\n" + "".join(f"B{number},2025-01-01,1\n" for number in range(MAX_ROWS + 1))

    assert rejection(organization, text) == [
        "row 10002: the file has more than 10,000 budget rows; split it into smaller files"
    ]
    assert not Budget.objects.exists()


def test_the_message_lists_the_first_50_problems(organization: Organization) -> None:
    text = "name,starts_on,amount\n" + "".join(f"B{number},2025-01-01,-1\n" for number in range(60))

    with pytest.raises(BudgetImportError) as caught:
        import_text(organization, text)

    assert len(caught.value.errors) == 60
    messages = caught.value.messages()
    assert len(messages) == 51
    assert messages[0] == "row 2, column 'amount': must not be negative, got -1"
    assert messages[-1] == "... and 10 more problem(s)"
    assert str(caught.value) == "; ".join(messages)


def test_budgets_import_command_reports_what_it_did(organization: Organization, tmp_path: Path) -> None:
    path = tmp_path / "budgets.csv"
    path.write_text("name,starts_on,amount\nPlatform,2025-01-01,100\n")
    out = StringIO()

    call_command("budgets_import", str(path), "--org", "acme", stdout=out)
    path.write_text("name,starts_on,amount\nPlatform,2025-01-01,150\nData,2025-01-01,50\n")
    call_command("budgets_import", str(path), "--org", "acme", stdout=out)

    assert out.getvalue() == "budgets.csv: 1 created, 0 updated\nbudgets.csv: 1 created, 1 updated\n"
    assert dict(Budget.objects.values_list("name", "amount")) == {
        "Platform": Decimal("150.00"),
        "Data": Decimal("50.00"),
    }


def test_budgets_import_command_rejects_a_bad_file_with_exit_status_1(
    organization: Organization, tmp_path: Path
) -> None:
    path = tmp_path / "budgets.csv"
    path.write_text(
        "name,starts_on,amount,currency\nGood,2025-01-01,1,USD\nBad,2025-01-01,-1,USD\nWorse,2025-01-01,x,ABC\n"
    )

    with pytest.raises(CommandError) as caught:
        call_command("budgets_import", str(path), "--org", "acme")

    assert caught.value.returncode == 1
    assert str(caught.value) == (
        "budgets.csv rejected, no budget changed:\n"
        "row 3, column 'amount': must not be negative, got -1\n"
        "row 4, column 'amount': expected a number, got 'x'\n"
        "row 4, column 'currency': unknown currency 'ABC'; expected an ISO code such as USD, EUR, GBP"
    )
    assert not Budget.objects.exists()


def test_budgets_import_command_refuses_an_unknown_organization_or_file(
    organization: Organization, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="no organization 'nope'"):
        call_command("budgets_import", str(tmp_path / "budgets.csv"), "--org", "nope")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("budgets_import", str(tmp_path / "missing.csv"), "--org", "acme")


def test_budgets_export_command_writes_stdout_or_a_file_that_imports_back(
    organization: Organization, budgets: list[Budget], tmp_path: Path
) -> None:
    # given the budgets exported through the command, to stdout and to a file
    before = snapshot(organization)
    out = StringIO()
    call_command("budgets_export", "--org", "acme", stdout=out)
    path = tmp_path / "budgets.csv"
    written = StringIO()
    call_command("budgets_export", "--org", "acme", "--output", str(path), stdout=written)
    Budget.objects.filter(organization=organization).delete()

    # when the file is imported through the command
    imported = StringIO()
    call_command("budgets_import", str(path), "--org", "acme", stdout=imported)

    # then both exports are the service's CSV and the budgets came back identical
    assert out.getvalue() == path.read_text(encoding="utf-8")
    assert out.getvalue().startswith(HEADER + "\n")
    assert written.getvalue() == f"acme: budgets written to {path}\n"
    assert imported.getvalue() == "budgets.csv: 4 created, 0 updated\n"
    assert snapshot(organization) == before
