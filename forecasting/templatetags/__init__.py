"""Template tags of the forecasting app."""
