"""judge mode: a job's test cases, comparison options, per-case results and credits charged

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        # The request's cases as JSON, expected outputs included: they live only here, on
        # the trusted side (docs/security.md, "Expected outputs stay secret").
        batch_op.add_column(sa.Column("test_cases", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("compare_mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("tolerance_absolute", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("tolerance_relative", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "stop_on_first_failure", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("command_line_arguments", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("compiler_options", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("case_results", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("test_cases_passed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("test_cases_total", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("credits_charged", sa.Integer(), nullable=False, server_default="0")
        )
    # A job charged before judge mode paid exactly one credit.
    op.execute(sa.text("UPDATE job SET credits_charged = 1 WHERE charged"))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        for column in (
            "credits_charged",
            "test_cases_total",
            "test_cases_passed",
            "case_results",
            "compiler_options",
            "command_line_arguments",
            "stop_on_first_failure",
            "tolerance_relative",
            "tolerance_absolute",
            "compare_mode",
            "test_cases",
        ):
            batch_op.drop_column(column)
