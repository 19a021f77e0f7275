"""documents tables: issued documents (signed content digests) and kept PDF files.

Revision ID: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("number", sa.String(48), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("terminal_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=True),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"],
                                name=op.f("fk_documents_citizen_id_citizens")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("public_id", name=op.f("uq_documents_public_id")),
        sa.UniqueConstraint("source", name=op.f("uq_documents_source")),
        sa.UniqueConstraint("kind", "number", name=op.f("uq_documents_kind_number")),
    )
    op.create_index("ix_documents_citizen_issued", "documents", ["citizen_id", "issued_at"])
    op.create_table(
        "document_files",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_document_files_document_id_documents")),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_document_files")),
    )


def downgrade() -> None:
    op.drop_table("document_files")
    op.drop_index("ix_documents_citizen_issued", table_name="documents")
    op.drop_table("documents")
