"""Planning: budgets and their status, alerts and their delivery, recommendations with savings."""
