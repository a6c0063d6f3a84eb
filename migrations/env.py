"""Alembic environment for pgchallenge.

The database URL comes from, in order: ``alembic -x url=...``, the ``sqlalchemy.url`` option (set by
``pgchallenge migrate``), ``PGCHALLENGE_DATABASE_URL``, ``DATABASE_URL``. The version table lives in schema
``challenge`` with everything else; after a downgrade to base it is dropped too, leaving nothing behind.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context
from pgchallenge.migrate import sqlalchemy_url

SCHEMA = "challenge"
VERSION_TABLE = "alembic_version"


def database_url() -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or context.config.get_main_option("sqlalchemy.url")
        or os.environ.get("PGCHALLENGE_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
    )
    if not url:
        raise SystemExit(
            "pgchallenge: no database URL; set DATABASE_URL or pass `alembic -x url=postgresql://...`"
        )
    return sqlalchemy_url(url)


def run_offline() -> None:
    context.configure(
        url=database_url(),
        literal_binds=True,
        version_table_schema=SCHEMA,
        version_table=VERSION_TABLE,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        context.run_migrations()


def run_online() -> None:
    engine = sa.create_engine(database_url(), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        # The version table lives in our schema, which must exist before Alembic creates it.
        connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        connection.commit()
        context.configure(
            connection=connection,
            version_table_schema=SCHEMA,
            version_table=VERSION_TABLE,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        remove_leftovers_at_base(connection)
    engine.dispose()


def remove_leftovers_at_base(connection: sa.Connection) -> None:
    """At base nothing of pgchallenge should remain: drop the version table and the empty schema.

    Also covers commands that migrate nothing on a database never migrated (``alembic current``): the
    schema this module created just to hold the version table goes away again.
    """
    version_table = f"{SCHEMA}.{VERSION_TABLE}"
    exists = connection.execute(sa.text("SELECT to_regclass(:name) IS NOT NULL"), {"name": version_table})
    if exists.scalar_one():
        remaining = connection.execute(sa.text(f"SELECT count(*) FROM {version_table}")).scalar_one()
        if remaining:
            return
        connection.execute(sa.text(f"DROP TABLE {version_table}"))
    objects = connection.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM pg_catalog.pg_class AS c WHERE c.relnamespace = n.oid)"
            " + (SELECT count(*) FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = n.oid)"
            " + (SELECT count(*) FROM pg_catalog.pg_type AS t WHERE t.typnamespace = n.oid)"
            " FROM pg_catalog.pg_namespace AS n WHERE n.nspname = :schema"
        ),
        {"schema": SCHEMA},
    ).scalar_one_or_none()
    if objects == 0:
        # Only an empty schema is dropped: anything a user put there stays.
        connection.execute(sa.text(f"DROP SCHEMA {SCHEMA}"))
    connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
