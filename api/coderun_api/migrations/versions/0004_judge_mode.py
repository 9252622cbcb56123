"""judge mode: a job's test cases, comparison options, per-case results and credits charged"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        # The request's cases as JSON, expected outputs included: they live only here, on
        # the trusted side (docs/security.md, "Expected outputs stay secret").
        batch_op.add_column(sa.Column("test_cases", sa.Text()))
        batch_op.add_column(sa.Column("compare_mode", sa.String(length=16)))
        batch_op.add_column(sa.Column("tolerance_absolute", sa.Float()))
        batch_op.add_column(sa.Column("tolerance_relative", sa.Float()))
        batch_op.add_column(
            sa.Column(
                "stop_on_first_failure", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("command_line_arguments", sa.Text()))
        batch_op.add_column(sa.Column("compiler_options", sa.Text()))
        batch_op.add_column(sa.Column("case_results", sa.Text()))
        batch_op.add_column(sa.Column("test_cases_passed", sa.Integer()))
        batch_op.add_column(sa.Column("test_cases_total", sa.Integer()))
        batch_op.add_column(
            sa.Column("credits_charged", sa.Integer(), nullable=False, server_default="0")
        )
    # A job charged before judge mode paid exactly one credit.
    op.execute(sa.text("UPDATE job SET credits_charged = 1 WHERE charged"))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
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
