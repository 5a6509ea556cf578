"""Template tags of the planning app: the finance dashboard and the spend charts of the admin pages."""
