//! Mutations of the files domain.

use async_graphql::{Context, ID, InputObject, Object};
use kernel::ids::parse_id;
use kernel::{RequirePermission, SignedIn, caller};

use super::types::{FileNode, UploadHeader, UploadTicketNode};
use super::{owners, service};
use crate::service::UploadRequest;

/// Files mutations.
#[derive(Default)]
pub struct FilesMutation;

/// Input of `requestUpload`: exactly one owner (a project, a task or a
/// ticket) and the file. A task may still come with its project, as before
/// tasks were owners of their own.
#[derive(InputObject)]
pub struct RequestUploadInput {
    /// The project (a project file).
    pub project_id: Option<ID>,
    /// The ticket (a ticket attachment).
    pub ticket_id: Option<ID>,
    /// The task (a task file).
    pub task_id: Option<ID>,
    /// Staff only (default false): clients never see the file. Only staff of
    /// the owner may set it.
    pub internal: Option<bool>,
    /// The file's name.
    pub filename: String,
    /// Its type, e.g. `application/pdf` (must be on the allow-list).
    pub content_type: String,
    /// Its size in bytes (at most the configured maximum, 25 MiB by default).
    pub size: i64,
}

fn optional_id(id: Option<&ID>, field: &str) -> async_graphql::Result<Option<uuid::Uuid>> {
    Ok(id.map(|id| parse_id(id, field)).transpose()?)
}

#[Object]
impl FilesMutation {
    /// Starts an upload: checks size and type, creates a PENDING file and
    /// answers a presigned URL for a plain HTTP PUT with the given headers.
    #[graphql(guard = "RequirePermission(\"files:file.upload\")")]
    async fn request_upload(
        &self,
        ctx: &Context<'_>,
        input: RequestUploadInput,
    ) -> async_graphql::Result<UploadTicketNode> {
        let request = UploadRequest {
            project_id: optional_id(input.project_id.as_ref(), "input.projectId")?,
            task_id: optional_id(input.task_id.as_ref(), "input.taskId")?,
            ticket_id: optional_id(input.ticket_id.as_ref(), "input.ticketId")?,
            internal: input.internal.unwrap_or(false),
            filename: input.filename,
            content_type: input.content_type,
            size: input.size,
        };
        let ticket = service(ctx)
            .request_upload(owners(ctx)?, caller(ctx)?, request)
            .await?;
        Ok(UploadTicketNode {
            upload_url: ticket.request.url,
            upload_headers: ticket
                .request
                .headers
                .into_iter()
                .map(|(name, value)| UploadHeader { name, value })
                .collect(),
            expires_at: ticket.request.expires_at,
            file: FileNode(ticket.file),
        })
    }

    /// Finishes an upload: reads the stored object once, checks its size and
    /// magic bytes, keeps exactly those bytes, and marks the file AVAILABLE,
    /// REJECTED (with the reason) or QUARANTINED until the antivirus scan passes.
    #[graphql(guard = "SignedIn")]
    async fn complete_upload(
        &self,
        ctx: &Context<'_>,
        file_id: ID,
    ) -> async_graphql::Result<FileNode> {
        let id = parse_id(&file_id, "fileId")?;
        Ok(FileNode(
            service(ctx)
                .complete_upload(owners(ctx)?, caller(ctx)?, id)
                .await?,
        ))
    }
}
