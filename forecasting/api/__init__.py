"""API package."""
