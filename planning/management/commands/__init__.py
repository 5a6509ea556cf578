"""Management commands of the planning app: budgets_import, budgets_export, evaluate_alerts, recommend, user_create."""
