//! GraphQL types of files.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object, SimpleObject};
use auth::graphql::loaders::UserLoader;
use auth::graphql::types::UserNode;
use chrono::{DateTime, Utc};
use kernel::caller;

use super::{owners, service};
use crate::model::{FileOwnerKind, FileRow, FileStatus};

fn id(value: uuid::Uuid) -> ID {
    ID(value.to_string())
}

/// A [`FileRow`] as the GraphQL `File`.
pub struct FileNode(pub FileRow);

/// A file attached to a project, a task or a ticket. You see it when you may
/// see its owner; `internal` files only when you are staff.
#[Object(name = "File")]
impl FileNode {
    /// Stable identifier of the file; pass it to `file` and `completeUpload`.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// What the file is attached to.
    async fn owner_kind(&self) -> FileOwnerKind {
        self.0.owner_kind
    }

    /// Identifier of the project, task or ticket it is attached to (see `ownerKind`).
    async fn owner_id(&self) -> ID {
        id(self.0.owner_id)
    }

    /// The project, for a project file or a file of one of its tasks; null
    /// for ticket attachments.
    // Two statements of its own for a task's file (the task, its project).
    #[graphql(complexity = "2 * kernel::cost::STATEMENT")]
    async fn project_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        Ok(match self.0.owner_kind {
            FileOwnerKind::Project => Some(id(self.0.owner_id)),
            FileOwnerKind::Task => service(ctx)
                .access(owners(ctx)?, caller(ctx)?, self.0.owner())
                .await?
                .within
                .filter(|within| within.kind == FileOwnerKind::Project)
                .map(|within| id(within.id)),
            FileOwnerKind::Ticket => None,
        })
    }

    /// The ticket, for a ticket attachment; null otherwise.
    async fn ticket_id(&self) -> Option<ID> {
        (self.0.owner_kind == FileOwnerKind::Ticket).then(|| id(self.0.owner_id))
    }

    /// The task, for a task's file; null otherwise.
    async fn task_id(&self) -> Option<ID> {
        (self.0.owner_kind == FileOwnerKind::Task).then(|| id(self.0.owner_id))
    }

    /// Whether only staff see the file; clients, freelancers and partners
    /// never get it in any list.
    async fn internal(&self) -> bool {
        self.0.internal
    }

    /// The uploaded filename made safe: no path, only letters, digits, `.`,
    /// `-`, `_` and spaces (others become `_`), at most about 120 characters.
    async fn filename(&self) -> &str {
        &self.0.filename
    }

    /// MIME type declared at `requestUpload` and checked against the bytes'
    /// magic numbers at `completeUpload`, e.g. `application/pdf`.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }

    /// Size in bytes: declared at `requestUpload`, then the stored object's
    /// real size once completed.
    async fn size(&self) -> i64 {
        self.0.size_bytes
    }

    /// Where the upload stands; only `AVAILABLE` files can be downloaded.
    async fn status(&self) -> FileStatus {
        self.0.status
    }

    /// Why the file was rejected (e.g. its bytes are not of the declared
    /// type, or the antivirus scan found something); null unless `REJECTED`.
    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }

    /// Who uploaded it; null only if the account can no longer be read.
    async fn uploaded_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        Ok(loader.load_one(self.0.uploaded_by).await?.map(UserNode))
    }

    /// A presigned URL for a plain HTTP GET of the bytes, valid
    /// `DOWNLOAD_URL_TTL_SECS` (5 minutes by default); null unless
    /// `AVAILABLE`. The download's name ends in the extension of the checked
    /// content type.
    async fn download_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(service(ctx).download_url(&self.0)?.map(|(url, _)| url))
    }

    /// When the upload was requested (`requestUpload`), in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A page of files.
pub type FileConnection = kernel::pagination::PageConnection<uuid::Uuid, FileNode>;

/// A header the upload must carry exactly.
#[derive(SimpleObject)]
pub struct UploadHeader {
    /// HTTP header to send with the PUT, e.g. `Content-Type`.
    pub name: String,
    /// Exact value to send; it is part of the URL's signature.
    pub value: String,
}

/// Where and how to upload a file's bytes.
#[derive(SimpleObject)]
pub struct UploadTicketNode {
    /// The pending file; call `completeUpload(fileId)` after the PUT.
    pub file: FileNode,
    /// Presigned URL for a plain HTTP PUT of the bytes; it writes once.
    pub upload_url: String,
    /// Headers the PUT must send as given (Content-Type, Content-Length and,
    /// on S3, If-None-Match).
    pub upload_headers: Vec<UploadHeader>,
    /// When the URL stops working, in UTC (`UPLOAD_URL_TTL_SECS` after the
    /// request, 15 minutes by default); request a new upload after that.
    pub expires_at: DateTime<Utc>,
}
