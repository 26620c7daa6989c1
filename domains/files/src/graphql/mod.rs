//! GraphQL of files: the `File` type, `file`, `requestUpload`,
//! `completeUpload`, and the helpers owning domains' fields call
//! (`Project.files`, `Ticket.attachments`).

pub mod mutation;
pub mod query;
pub mod types;

use std::sync::Arc;

use async_graphql::Context;
use kernel::pagination::{PageRequest, max_page_size};
use kernel::{AppError, caller};
use uuid::Uuid;

use crate::model::OwnerRef;
use crate::owner::FileOwners;
use crate::service::FilesService;
use types::{FileConnection, FileNode};

pub(crate) fn service<'a>(ctx: &Context<'a>) -> &'a Arc<FilesService> {
    ctx.data_unchecked::<Arc<FilesService>>()
}

pub(crate) fn owners<'a>(ctx: &Context<'a>) -> Result<&'a FileOwners, AppError> {
    ctx.data_opt::<FileOwners>()
        .ok_or_else(|| AppError::internal("no file owners are registered in the schema data"))
}

/// Files of `owner` the caller may see, oldest first: the body of a field
/// such as `Ticket.attachments`.
pub async fn attachments(
    ctx: &Context<'_>,
    owner: OwnerRef,
) -> async_graphql::Result<Vec<FileNode>> {
    Ok(service(ctx)
        .files_of(owners(ctx)?, caller(ctx)?, owner)
        .await?
        .into_iter()
        .map(FileNode)
        .collect())
}

/// One page of the files of `owner` and of the owners inside it that the
/// caller may see, newest first: the body of a field such as `Project.files`.
pub async fn files_page(
    ctx: &Context<'_>,
    owner: OwnerRef,
    inside: &[OwnerRef],
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<FileConnection> {
    let request = PageRequest::<Uuid>::new(first, after.as_deref(), max_page_size(ctx))?;
    let page = service(ctx)
        .page_of(
            owners(ctx)?,
            caller(ctx)?,
            owner,
            inside,
            request.after,
            request.limit,
        )
        .await?;
    Ok(request.connection(page, |file| file.id, FileNode))
}
