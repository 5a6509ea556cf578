"""REST endpoints of the planning app: budgets with status, alerts, webhooks, recommendations."""
