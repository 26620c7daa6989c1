//! Queries of the files domain.

use async_graphql::{Context, ID, Object};
use kernel::ids::parse_id;
use kernel::{SignedIn, caller};

use super::types::FileNode;
use super::{owners, service};

/// Files queries.
#[derive(Default)]
pub struct FilesQuery;

#[Object]
impl FilesQuery {
    /// One file you may see (you may see its owner; internal ones only as
    /// staff), any other id is `NOT_FOUND`; its `downloadUrl` works for a
    /// few minutes.
    #[graphql(guard = "SignedIn")]
    async fn file(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file's `File.id`.")] id: ID,
    ) -> async_graphql::Result<FileNode> {
        let id = parse_id(&id, "id")?;
        Ok(FileNode(
            service(ctx).file(owners(ctx)?, caller(ctx)?, id).await?,
        ))
    }
}
