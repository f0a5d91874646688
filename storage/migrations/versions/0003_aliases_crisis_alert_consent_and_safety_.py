"""aliases, crisis alert consent and safety plans

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('safety_plans',
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('warning_signs', sa.Text(), nullable=True),
    sa.Column('what_helps', sa.Text(), nullable=True),
    sa.Column('people_and_places', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_safety_plans_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('participant_id', name=op.f('pk_safety_plans'))
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alias', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('crisis_alerts', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_participants_alias'), ['alias'])


def downgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_participants_alias'), type_='unique')
        batch_op.drop_column('crisis_alerts')
        batch_op.drop_column('alias')

    op.drop_table('safety_plans')
