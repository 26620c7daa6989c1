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
    /// One file you may see; its `downloadUrl` works for a few minutes.
    #[graphql(guard = "SignedIn")]
    async fn file(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<FileNode> {
        let id = parse_id(&id, "id")?;
        Ok(FileNode(
            service(ctx).file(owners(ctx)?, caller(ctx)?, id).await?,
        ))
    }
}
