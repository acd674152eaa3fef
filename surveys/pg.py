"""Raw psycopg access on Django's PostgreSQL connection, for the few hot statements that
Django's cursor serves poorly."""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection


def server_binding_cursor() -> psycopg.Cursor[Any]:
    """A psycopg cursor with server-side binding, on Django's connection and in its
    transaction.

    Django's own cursor binds parameters on the client (it quotes them into the statement
    text), so `prepare=True` on it does nothing and PostgreSQL plans the statement on every
    call. This cursor sends parameters apart from the statement: statements can be prepared,
    large parameter lists do not make huge statements, and binary results skip text parsing.
    Prepared statements need a direct connection or a pooler that supports them (PgBouncer
    1.21+ with `max_prepared_statements`)."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)
