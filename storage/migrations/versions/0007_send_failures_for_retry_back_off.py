"""send failures for retry back-off

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('family_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_failures', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_failures', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_failures', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_column('send_failures')

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_column('send_failures')

    with op.batch_alter_table('family_members', schema=None) as batch_op:
        batch_op.drop_column('send_failures')

