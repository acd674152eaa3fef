"""Who may see what. Every view, export and API call that shows client data asks here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from collections_link.models import Client, Membership, Role

AnyUser = AbstractBaseUser | AnonymousUser


def user_role(user: AnyUser) -> str | None:
    """The user's role; a Django superuser is an agency admin. None for anyone else."""
    if not user.is_authenticated:
        return None
    if getattr(user, "is_superuser", False):
        return Role.AGENCY_ADMIN
    membership: Membership | None = getattr(user, "membership", None)
    return membership.role if membership else None


def is_agency_staff(user: AnyUser) -> bool:
    return user_role(user) in {Role.AGENCY_ADMIN, Role.SUPERVISOR}


def is_caller(user: AnyUser) -> bool:
    return user_role(user) in {Role.CALLER, Role.AGENCY_ADMIN, Role.SUPERVISOR}


def visible_clients(user: AnyUser) -> QuerySet[Client]:
    """The clients whose data this user may read: all for the agency, one for a client viewer,
    none for a caller or a stranger."""
    role = user_role(user)
    if role in {Role.AGENCY_ADMIN, Role.SUPERVISOR}:
        return Client.objects.all()
    if role == Role.CLIENT_VIEWER:
        return Client.objects.filter(viewers__user_id=user.pk or 0)
    return Client.objects.none()


def client_for_user_or_404(user: AnyUser, *, ref: str) -> Client:
    """The client `ref` if the user may read it; otherwise 404, revealing nothing about whether
    it exists."""
    client = visible_clients(user).filter(ref=ref).first()
    if client is None:
        raise Http404("No such client.")
    return client
