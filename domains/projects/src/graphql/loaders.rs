//! DataLoaders of the projects domain. Shared across requests, so they do not cache.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::model::{Milestone, ProjectMember};
use crate::service::ProjectsService;

/// Members of projects, by project id.
pub struct MembersLoader(pub Arc<ProjectsService>);

impl Loader<Uuid> for MembersLoader {
    type Value = Vec<ProjectMember>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<ProjectMember>>, Self::Error> {
        let mut grouped: HashMap<Uuid, Vec<ProjectMember>> =
            keys.iter().map(|key| (*key, Vec::new())).collect();
        for member in self
            .0
            .members_of(keys)
            .await
            .map_err(async_graphql::Error::from)?
        {
            grouped.entry(member.project_id).or_default().push(member);
        }
        Ok(grouped)
    }
}

/// Milestones of projects, by project id.
pub struct ProjectMilestonesLoader(pub Arc<ProjectsService>);

impl Loader<Uuid> for ProjectMilestonesLoader {
    type Value = Vec<Milestone>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Milestone>>, Self::Error> {
        let mut grouped: HashMap<Uuid, Vec<Milestone>> =
            keys.iter().map(|key| (*key, Vec::new())).collect();
        for milestone in self
            .0
            .milestones_of(keys)
            .await
            .map_err(async_graphql::Error::from)?
        {
            grouped
                .entry(milestone.project_id)
                .or_default()
                .push(milestone);
        }
        Ok(grouped)
    }
}

/// Milestones by id.
pub struct MilestoneLoader(pub Arc<ProjectsService>);

impl Loader<Uuid> for MilestoneLoader {
    type Value = Milestone;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Milestone>, Self::Error> {
        Ok(self
            .0
            .milestones_by_id(keys)
            .await
            .map_err(async_graphql::Error::from)?
            .into_iter()
            .map(|milestone| (milestone.id, milestone))
            .collect())
    }
}
