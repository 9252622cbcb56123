"""fair share between accounts: job.weight, account.fair_next_start, the fair_clock row"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    # Existing jobs count as one run each, and every account starts level with the clock.
    with op.batch_alter_table("job") as batch_op:
        batch_op.add_column(sa.Column("weight", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("account") as batch_op:
        batch_op.add_column(
            sa.Column("fair_next_start", sa.BigInteger(), nullable=False, server_default="0")
        )
    clock = op.create_table(
        "fair_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("virtual_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The one row every claim locks; made here so that no two replicas race to insert it.
    op.bulk_insert(clock, [{"id": 1, "virtual_time": 0}])


def downgrade() -> None:
    op.drop_table("fair_clock")
    with op.batch_alter_table("account") as batch_op:
        batch_op.drop_column("fair_next_start")
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_column("weight")
