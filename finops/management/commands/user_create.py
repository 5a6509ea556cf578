"""`manage.py user_create USERNAME --org SLUG --role viewer|analyst|admin [--email E] [--token]`: create a user, or
update an existing one's role (and e-mail), in one organization.

The password comes from the environment variable ``TOKENCAST_PASSWORD`` (never from the command line, where it
would land in the shell history and the process list); without it a new user has an unusable password and an
existing user keeps theirs. ``--token`` prints the user's API token on its own line, for scripts.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.management.organization import organization_for_command
from finops.models import Role
from finops.services import user_api_token, user_upsert

PASSWORD_VARIABLE = "TOKENCAST_PASSWORD"


class Command(BaseCommand):
    help = (
        f"Create a user (or update an existing one's role and e-mail) in an organization. The password is read "
        f"from ${PASSWORD_VARIABLE}; --token prints the user's API token."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--role", required=True, help=f"one of {', '.join(Role.values)}")
        parser.add_argument("--email", default="", help="the user's e-mail address (replaces the current one)")
        parser.add_argument("--token", action="store_true", help="print the user's API token on its own line")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_for_command(options["org"])
        password = os.environ.get(PASSWORD_VARIABLE) or None
        try:
            user, created = user_upsert(
                username=options["username"],
                organization=organization,
                role=options["role"],
                email=options["email"],
                password=password,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        action = "created" if created else "updated"
        self.stdout.write(f"{action} user {user.get_username()}: {options['role']} in {organization.slug}")
        if password:
            self.stdout.write(f"password set from ${PASSWORD_VARIABLE}")
        elif not user.has_usable_password():
            self.stdout.write(
                f"no password: the user cannot sign in with one (set ${PASSWORD_VARIABLE} and run again to give one)"
            )
        if options["token"]:
            self.stdout.write(user_api_token(user=user))
