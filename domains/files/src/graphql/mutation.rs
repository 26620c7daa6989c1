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
    /// `Project.id` to attach a project file to (or the task's project, with `taskId`).
    pub project_id: Option<ID>,
    /// `Ticket.id` to attach a ticket attachment to.
    pub ticket_id: Option<ID>,
    /// `Task.id` to attach a task's file to.
    pub task_id: Option<ID>,
    /// Staff only (default false): clients never see the file. Only staff of
    /// the owner may set it.
    pub internal: Option<bool>,
    /// The file's name on the uploader's device; stored made safe (see `File.filename`).
    pub filename: String,
    /// Its MIME type, e.g. `application/pdf`; must be on the allow-list
    /// (`UPLOAD_ALLOWED_TYPES`: PDF, PNG, JPEG, GIF, WebP, text, CSV, ZIP,
    /// Office documents and MP4 by default) and match the bytes.
    pub content_type: String,
    /// Its size in bytes, at least 1 and at most `UPLOAD_MAX_BYTES` (25 MiB
    /// by default); the stored bytes must have exactly this size.
    pub size: i64,
}

fn optional_id(id: Option<&ID>, field: &str) -> async_graphql::Result<Option<uuid::Uuid>> {
    Ok(id.map(|id| parse_id(id, field)).transpose()?)
}

#[Object]
impl FilesMutation {
    /// Starts an upload: checks size and type, creates a `PENDING` file and
    /// answers a presigned URL for a plain HTTP PUT with the given headers.
    /// Staff, clients and freelancers (`files:file.upload`) who may attach
    /// files to the owner; partners are read-only.
    #[graphql(guard = "RequirePermission(\"files:file.upload\")")]
    async fn request_upload(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The owner and the file's name, type and size.")]
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
    /// `REJECTED` (with the reason) or, when scanning is on (`CLAMAV_ADDR`),
    /// `QUARANTINED` until the queued antivirus scan passes. Only the uploader
    /// or staff may complete a file.
    #[graphql(guard = "SignedIn")]
    async fn complete_upload(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "`File.id` of the `PENDING` file `requestUpload` answered, after the PUT."
        )]
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
