"""peer volunteers, cheers, group activities and notices

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('min_level', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activities_starts_at'), ['starts_at'], unique=False)

    op.create_table('volunteers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('awaiting', sa.String(length=48), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers')),
    sa.UniqueConstraint('chat_id', name=op.f('uq_volunteers_chat_id'))
    )
    op.create_table('activity_replies',
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.String(length=8), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('how_was_it', sa.String(length=8), nullable=True),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_activity_replies_activity_id_activities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_activity_replies_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('activity_id', 'participant_id', name=op.f('pk_activity_replies'))
    )
    with op.batch_alter_table('activity_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_replies_participant_id'), ['participant_id'], unique=False)

    op.create_table('cheers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('phrase', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('thanked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_cheers_participant_id_participants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_cheers_volunteer_id_volunteers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cheers')),
    sa.UniqueConstraint('participant_id', 'day', name=op.f('uq_cheers_participant_id_day'))
    )
    with op.batch_alter_table('cheers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cheers_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cheers_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('volunteer_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_volunteer_codes_volunteer_id_volunteers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_volunteer_codes_code_hash'))
    )
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('cheer_id', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_token', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_notices_activity_id_activities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cheer_id'], ['cheers.id'], name=op.f('fk_notices_cheer_id_cheers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_notices_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    sa.UniqueConstraint('participant_id', 'kind', 'activity_id', name=op.f('uq_notices_participant_id_kind_activity_id'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_due_at'), ['due_at'], unique=False)

    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('peer_visible', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('cheers_on', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('kind_word_asked_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_column('kind_word_asked_at')
        batch_op.drop_column('cheers_on')
        batch_op.drop_column('peer_visible')

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_due_at'))
        batch_op.drop_index(batch_op.f('ix_notices_activity_id'))

    op.drop_table('notices')
    op.drop_table('volunteer_codes')
    with op.batch_alter_table('cheers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cheers_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_cheers_created_at'))

    op.drop_table('cheers')
    with op.batch_alter_table('activity_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_replies_participant_id'))

    op.drop_table('activity_replies')
    op.drop_table('volunteers')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activities_starts_at'))

    op.drop_table('activities')
