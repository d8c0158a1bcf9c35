"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
from app.core.db.citus import distribute_new_reference_table, distribute_new_tenant_table  # noqa: F401
from migrations.rls import enable_tenant_rls  # noqa: F401

# Citus rule (README "Scaling out"): a new tenant table is created WITHOUT its composite foreign keys,
# then `distribute_new_tenant_table(op.get_bind(), "<table>")`, then `enable_tenant_rls("<table>")`,
# then `op.create_foreign_key(...)` for each FK (every one including tenant_id). A new global table:
# `distribute_new_reference_table(op.get_bind(), "<table>")` and add it to REFERENCE_TABLES.
# Both do nothing on plain PostgreSQL or on a Citus database not distributed yet.

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
