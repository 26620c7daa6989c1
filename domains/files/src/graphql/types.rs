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

/// A file attached to a project, a task or a ticket.
pub struct FileNode(pub FileRow);

#[Object(name = "File")]
impl FileNode {
    /// Id.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// What the file is attached to.
    async fn owner_kind(&self) -> FileOwnerKind {
        self.0.owner_kind
    }

    /// The id of what it is attached to.
    async fn owner_id(&self) -> ID {
        id(self.0.owner_id)
    }

    /// The project, for a project file or a file of one of its tasks.
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

    /// The ticket, for a ticket attachment.
    async fn ticket_id(&self) -> Option<ID> {
        (self.0.owner_kind == FileOwnerKind::Ticket).then(|| id(self.0.owner_id))
    }

    /// The task, if attached to one.
    async fn task_id(&self) -> Option<ID> {
        (self.0.owner_kind == FileOwnerKind::Task).then(|| id(self.0.owner_id))
    }

    /// Staff only: clients never see it.
    async fn internal(&self) -> bool {
        self.0.internal
    }

    /// Sanitised filename.
    async fn filename(&self) -> &str {
        &self.0.filename
    }

    /// Declared content type.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }

    /// Size in bytes.
    async fn size(&self) -> i64 {
        self.0.size_bytes
    }

    /// Status.
    async fn status(&self) -> FileStatus {
        self.0.status
    }

    /// Why the file was rejected.
    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }

    /// Who uploaded it.
    async fn uploaded_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        Ok(loader.load_one(self.0.uploaded_by).await?.map(UserNode))
    }

    /// A short-lived URL to download the file; null unless AVAILABLE. The
    /// download's name ends in the extension of the checked content type.
    async fn download_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(service(ctx).download_url(&self.0)?.map(|(url, _)| url))
    }

    /// When it was requested.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A page of files.
pub type FileConnection = kernel::pagination::PageConnection<uuid::Uuid, FileNode>;

/// A header the upload must carry exactly.
#[derive(SimpleObject)]
pub struct UploadHeader {
    /// Header name.
    pub name: String,
    /// Header value.
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
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}
