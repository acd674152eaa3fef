"""Create a user with a role.

    manage.py create_user NAME --role client_viewer --client acme-energia [--password ...]
    manage.py create_user NAME --role supervisor [--email ...] [--password ...]

A client viewer needs exactly one client; the agency roles (agency admin, supervisor, caller)
take none. Agency admins are superusers and supervisors are staff (they use /admin/); callers
and client viewers never are. Without --password a random one is generated and printed once.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from collections_link.models import Client, Membership, Role


class Command(BaseCommand):
    help = "Create a user with a role (a client viewer is bound to exactly one client)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--client",
            action="append",
            default=[],
            metavar="CLIENT_REF",
            help="The client a client_viewer may read (exactly one; none for agency roles).",
        )
        parser.add_argument("--password", help="Default: a random password, printed once.")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--update",
            action="store_true",
            help="Change the role (and password, if given) of an existing user.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        role = Role(options["role"])
        refs: list[str] = options["client"]
        client = self._client_for(role, refs)

        User = get_user_model()
        existing = User.objects.filter(username=username).first()
        if existing is not None and not options["update"]:
            raise CommandError(
                f"A user named {username!r} already exists; pass --update to change its role."
            )

        password: str | None = options["password"]
        generated = password is None and existing is None
        if generated:
            password = secrets.token_urlsafe(12)
        if password is not None:
            try:
                candidate = existing or User(username=username, email=options["email"])
                validate_password(password, user=candidate)
            except ValidationError as exc:
                raise CommandError("Password refused: " + " ".join(exc.messages)) from exc

        with transaction.atomic():
            user = existing or User(username=username)
            if options["email"]:
                user.email = options["email"]
            if password is not None:
                user.set_password(password)
            # Only the agency's own people use the administration.
            user.is_superuser = role == Role.AGENCY_ADMIN
            user.is_staff = role in {Role.AGENCY_ADMIN, Role.SUPERVISOR}
            user.save()
            Membership.objects.update_or_create(
                user=user, defaults={"role": role, "client": client}
            )

        where = f" of {client.name}" if client else ""
        verb = "Updated" if existing else "Created"
        self.stdout.write(self.style.SUCCESS(f"{verb} {username}: {role.label}{where}."))
        if generated:
            self.stdout.write(f"Password: {password}")

    def _client_for(self, role: Role, refs: list[str]) -> Client | None:
        if role != Role.CLIENT_VIEWER:
            if refs:
                raise CommandError(
                    f"The {role.label} role sees every client: do not pass --client."
                )
            return None
        if len(refs) != 1:
            raise CommandError(
                "A client viewer is bound to exactly one client: pass --client CLIENT_REF once "
                f"(got {len(refs)})."
            )
        client = Client.objects.filter(ref=refs[0]).first()
        if client is None:
            known = ", ".join(Client.objects.values_list("ref", flat=True)[:20]) or "none yet"
            raise CommandError(f"No client with ref {refs[0]!r}. Known clients: {known}.")
        return client
