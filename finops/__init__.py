"""Tokencast project package and core domain: tenancy, teams, allocation, price catalog."""

from finops.celery import app as celery_app

__all__ = ["celery_app"]
