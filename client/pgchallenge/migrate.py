"""Run the Alembic migrations that ship inside the package.

The migrations live in the repository's ``migrations/`` folder, which the wheel installs as
``pgchallenge.migrations``; ``alembic.ini`` at the repository root points at the same folder. This module
builds the Alembic configuration in code so that an installed package can migrate without the repository.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config


def migrations_dir() -> Path:
    """The folder holding env.py and versions/ (inside the installed package or the checkout)."""
    return Path(str(resources.files("pgchallenge.migrations")))


def sql_dir() -> Path:
    """The ``plpgsql/`` source folder (schema.sql and functions/)."""
    return Path(str(resources.files("pgchallenge.plpgsql")))


def alembic_config(url: str, *, output: io.StringIO | None = None, role_prefix: str | None = None) -> Config:
    """The configuration ``alembic`` would read, for ``url``.

    ``role_prefix`` names the deployment's group roles (PREFIX_app, PREFIX_reader, PREFIX_admin) when a
    revision creates them; without it, ``PGCHALLENGE_ROLE_PREFIX`` or ``pgchallenge``."""
    config = Config(output_buffer=output) if output is not None else Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # env.py reads the URL from here; "%" must be escaped for configparser.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    if role_prefix is not None:
        config.set_main_option("pgchallenge_role_prefix", role_prefix.replace("%", "%%"))
    return config


def sqlalchemy_url(url: str) -> str:
    """Turn a libpq URL into one SQLAlchemy routes to psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if "://" not in url:
        # A keyword/value conninfo string: pass it through as libpq parameters.
        from urllib.parse import quote

        return "postgresql+psycopg:///?" + "&".join(
            f"{key}={quote(value)}" for key, value in _parse_conninfo(url).items()
        )
    return url


def _parse_conninfo(conninfo: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    return {key: str(value) for key, value in conninfo_to_dict(conninfo).items() if value is not None}


def upgrade(url: str, revision: str = "head", *, role_prefix: str | None = None) -> None:
    """``alembic upgrade`` against ``url``."""
    command.upgrade(alembic_config(url, role_prefix=role_prefix), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def upgrade_sql(url: str, revision: str = "head", *, role_prefix: str | None = None) -> str:
    """The offline SQL script of ``alembic upgrade --sql`` (for DBAs to review)."""
    buffer = io.StringIO()
    command.upgrade(alembic_config(url, output=buffer, role_prefix=role_prefix), revision, sql=True)
    return buffer.getvalue()
