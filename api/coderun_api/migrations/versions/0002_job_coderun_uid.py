"""job.coderun_uid: the CodeRun a Kubernetes job is bound to

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: local jobs have no CodeRun. A Kubernetes job still in flight across this
    # upgrade has none recorded, so no CodeRun can finish it: the reconciler fails it free
    # of charge (an unverifiable result is never charged).
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coderun_uid", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("coderun_uid")
