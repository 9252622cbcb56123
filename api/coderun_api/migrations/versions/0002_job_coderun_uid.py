"""job.coderun_uid: the CodeRun a Kubernetes job is bound to"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    # Nullable: local jobs have no CodeRun. A Kubernetes job still in flight across this
    # upgrade has none recorded, so no CodeRun can finish it: the reconciler fails it free
    # of charge (an unverifiable result is never charged).
    with op.batch_alter_table("job") as batch_op:
        batch_op.add_column(sa.Column("coderun_uid", sa.String(length=64)))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_column("coderun_uid")
