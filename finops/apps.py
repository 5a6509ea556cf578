"""App config for the core domain."""

from django.apps import AppConfig


class FinopsConfig(AppConfig):
    name = "finops"
    verbose_name = "Tokencast core"
