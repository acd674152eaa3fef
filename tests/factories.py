"""factory_boy factories with the named personas the tests use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from collections_link.models import (
    RIGHT_PARTY_OUTCOMES,
    Account,
    Client,
    Contact,
    ContactChannel,
    Debtor,
    Membership,
    Operator,
    Outcome,
    Payment,
    Promise,
    Role,
)

UTC = dt.UTC


class ClientFactory(factory.django.DjangoModelFactory[Client]):
    class Meta:
        model = Client
        django_get_or_create = ("ref",)

    ref = "acme-energia"
    name = "Acme Energia"
    country = "IT"
    default_language = "it"
    time_zone = "Europe/Rome"


class OperatorFactory(factory.django.DjangoModelFactory[Operator]):
    class Meta:
        model = Operator
        django_get_or_create = ("ref",)

    ref = factory.Sequence(lambda n: f"op-{n}")
    name = factory.Sequence(lambda n: f"Operator {n}")
    client = factory.SubFactory(ClientFactory)


class DebtorFactory(factory.django.DjangoModelFactory[Debtor]):
    class Meta:
        model = Debtor

    client = factory.SubFactory(ClientFactory)
    ref = factory.Sequence(lambda n: f"C-{n}")
    phone_e164 = factory.Sequence(lambda n: f"+39333{n:07d}")
    country = "IT"
    language = "it"


class AccountFactory(factory.django.DjangoModelFactory[Account]):
    class Meta:
        model = Account

    client = factory.SubFactory(ClientFactory)
    ref = factory.Sequence(lambda n: f"A-{n}")
    debtor = factory.SubFactory(DebtorFactory, client=factory.SelfAttribute("..client"))
    placed_on = dt.date(2026, 10, 1)
    amount_placed = Decimal("100.00")
    currency = "EUR"


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    client = factory.SubFactory(ClientFactory)
    ref = factory.Sequence(lambda n: f"K-{n}")
    account = factory.SubFactory(AccountFactory, client=factory.SelfAttribute("..client"))
    operator = factory.SubFactory(OperatorFactory, client=factory.SelfAttribute("..client"))
    channel = ContactChannel.PHONE
    started_at = dt.datetime(2026, 11, 19, 9, 12, tzinfo=UTC)
    ended_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(minutes=7))
    outcome = Outcome.PROMISE_TO_PAY
    flags = ""
    survey_consent = True
    right_party = factory.LazyAttribute(lambda o: o.outcome in RIGHT_PARTY_OUTCOMES)


class PromiseFactory(factory.django.DjangoModelFactory[Promise]):
    class Meta:
        model = Promise

    contact = factory.SubFactory(ContactFactory)
    account = factory.SelfAttribute("contact.account")
    amount = Decimal("50.00")
    due_on = dt.date(2026, 11, 30)


class PaymentFactory(factory.django.DjangoModelFactory[Payment]):
    class Meta:
        model = Payment

    client = factory.SubFactory(ClientFactory)
    ref = factory.Sequence(lambda n: f"P-{n}")
    account = factory.SubFactory(AccountFactory, client=factory.SelfAttribute("..client"))
    paid_at = dt.datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    amount = Decimal("50.00")
    currency = "EUR"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")


def user_with_role(username: str, role: Role, client: Client | None = None):
    user = UserFactory(username=username)
    Membership.objects.update_or_create(user=user, defaults={"role": role, "client": client})
    return user
