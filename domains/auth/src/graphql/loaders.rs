//! DataLoaders of the auth domain. Shared across requests, so they do not cache.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::model::{Organization, User};
use crate::service::AuthService;

/// Organizations by id, one query per batch.
pub struct OrganizationLoader(pub Arc<AuthService>);

impl Loader<Uuid> for OrganizationLoader {
    type Value = Organization;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Organization>, Self::Error> {
        let rows = self
            .0
            .organizations_by_ids(keys)
            .await
            .map_err(async_graphql::Error::from)?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// Users by id, one query per batch; for other domains' `assignee`, `author` fields.
pub struct UserLoader(pub Arc<AuthService>);

impl Loader<Uuid> for UserLoader {
    type Value = User;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, User>, Self::Error> {
        let rows = self
            .0
            .users_by_ids(keys)
            .await
            .map_err(async_graphql::Error::from)?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}
