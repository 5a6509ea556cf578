"""Tests of finops."""
