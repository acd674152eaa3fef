from __future__ import annotations

import pytest

from tests.factories import ContactFactory


@pytest.mark.django_db
def test_a_contact_can_be_stored() -> None:
    contact = ContactFactory.create()
    assert contact.right_party is True
