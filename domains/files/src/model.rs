//! Rows of the `files` table and the vocabularies they hold.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use kernel::db_enum;
use kernel::schema::files;
use uuid::Uuid;

db_enum! {
    /// Where an uploaded file stands.
    FileStatus {
        /// Waiting for the upload and `completeUpload`.
        Pending = "pending",
        /// Uploaded and checked; waiting for the antivirus scan.
        Quarantined = "quarantined",
        /// Ready to download.
        Available = "available",
        /// Refused; see `rejectionReason`.
        Rejected = "rejected",
    }
}

db_enum! {
    /// What a file is attached to; the owning domain decides who may see it.
    /// A domain that takes attachments adds its kind here and implements
    /// `FileOwner` for it.
    FileOwnerKind {
        /// A project (projects domain).
        Project = "project",
        /// A task of a project (projects domain).
        Task = "task",
        /// A support ticket (support domain).
        Ticket = "ticket",
    }
}

/// One owner: its kind and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OwnerRef {
    /// The kind.
    pub kind: FileOwnerKind,
    /// The owner's id in its domain.
    pub id: Uuid,
}

impl OwnerRef {
    /// A project.
    pub fn project(id: Uuid) -> Self {
        Self {
            kind: FileOwnerKind::Project,
            id,
        }
    }

    /// A task.
    pub fn task(id: Uuid) -> Self {
        Self {
            kind: FileOwnerKind::Task,
            id,
        }
    }

    /// A ticket.
    pub fn ticket(id: Uuid) -> Self {
        Self {
            kind: FileOwnerKind::Ticket,
            id,
        }
    }
}

/// An uploaded file.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = files, check_for_backend(diesel::pg::Pg))]
pub struct FileRow {
    /// Id.
    pub id: Uuid,
    /// What it is attached to.
    pub owner_kind: FileOwnerKind,
    /// The owner's id.
    pub owner_id: Uuid,
    /// Staff only: clients never see it.
    pub internal: bool,
    /// Uploader.
    pub uploaded_by: Uuid,
    /// Sanitised filename, as the uploader named it.
    pub filename: String,
    /// Declared content type (checked against the bytes on completion).
    pub content_type: String,
    /// Declared size.
    pub size_bytes: i64,
    /// Key of the checked bytes that downloads serve; only the server writes it.
    pub storage_key: String,
    /// Key the client's presigned PUT writes; cleared once the upload is read.
    pub upload_key: Option<String>,
    /// Where it stands.
    pub status: FileStatus,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Checked at.
    pub completed_at: Option<DateTime<Utc>>,
}

impl FileRow {
    /// Its owner.
    pub fn owner(&self) -> OwnerRef {
        OwnerRef {
            kind: self.owner_kind,
            id: self.owner_id,
        }
    }
}

/// A pending file.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = files, check_for_backend(diesel::pg::Pg))]
pub struct NewFile {
    /// Id.
    pub id: Uuid,
    /// Owner kind.
    pub owner_kind: FileOwnerKind,
    /// Owner id.
    pub owner_id: Uuid,
    /// Staff only.
    pub internal: bool,
    /// Uploader.
    pub uploaded_by: Uuid,
    /// Sanitised filename.
    pub filename: String,
    /// Declared type.
    pub content_type: String,
    /// Declared size.
    pub size_bytes: i64,
    /// Final key.
    pub storage_key: String,
    /// Upload key.
    pub upload_key: Option<String>,
    // The columns of the shape before owners, still written while instances
    // of the previous release may read them (dropped by a later migration).
    /// Legacy: the project (or the task's project).
    pub project_id: Option<Uuid>,
    /// Legacy: the task.
    pub task_id: Option<Uuid>,
    /// Legacy: the ticket.
    pub ticket_id: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip_in_the_database_form() {
        for &status in FileStatus::ALL {
            assert_eq!(FileStatus::from_db(status.as_db()), Some(status));
        }
        for &kind in FileOwnerKind::ALL {
            assert_eq!(FileOwnerKind::from_db(kind.as_db()), Some(kind));
        }
        assert_eq!(FileOwnerKind::Ticket.as_db(), "ticket");
    }
}
