"""the task ladder and the pressure budget

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('task_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=48), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_task_offers_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_offers')),
    sa.UniqueConstraint('participant_id', 'day', 'task_id', name=op.f('uq_task_offers_participant_id_day_task_id'))
    )

    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unanswered', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('quiet_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('level', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('level_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('wants_tasks', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('group_opt_in', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('step_up_offered_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('step_up_open', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('step_up_snoozed_until', sa.Date(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_column('step_up_snoozed_until')
        batch_op.drop_column('step_up_open')
        batch_op.drop_column('step_up_offered_on')
        batch_op.drop_column('group_opt_in')
        batch_op.drop_column('wants_tasks')
        batch_op.drop_column('level_since')
        batch_op.drop_column('level')
        batch_op.drop_column('quiet_since')
        batch_op.drop_column('unanswered')

    op.drop_table('task_offers')
