//! DataLoaders of the support domain. Keys carry the caller's right to
//! internal notes, so one shared loader never mixes what callers may see.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::model::TicketComment;
use crate::service::TicketService;

/// Key of the comments loader: internal notes are loaded only for staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommentsKey {
    /// The ticket (the caller already sees it).
    pub ticket_id: Uuid,
    /// Whether the caller reads internal notes.
    pub include_internal: bool,
}

/// Comments of tickets, batched.
pub struct CommentsLoader(pub Arc<TicketService>);

impl Loader<CommentsKey> for CommentsLoader {
    type Value = Vec<TicketComment>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[CommentsKey],
    ) -> Result<HashMap<CommentsKey, Vec<TicketComment>>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|key| key.ticket_id).collect();
        let comments = self
            .0
            .comments_of(&ids, true)
            .await
            .map_err(async_graphql::Error::from)?;
        Ok(keys
            .iter()
            .map(|key| {
                let rows = comments
                    .iter()
                    .filter(|c| {
                        c.ticket_id == key.ticket_id && (key.include_internal || !c.internal)
                    })
                    .cloned()
                    .collect();
                (*key, rows)
            })
            .collect())
    }
}
