"""Settings package: `base` reads the environment; `test` only speeds the suite up."""
