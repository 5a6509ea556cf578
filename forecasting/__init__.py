"""Forecasting app: the forecast engine, forecast runs and their points, and their read side."""
