//! The one GraphQL schema: every domain's roots merged, plus limits.
//!
//! `builder()` gives the shape without I/O; the server and the SDL test share it.

use async_graphql::registry::Registry;
use std::sync::Arc;

use async_graphql::{
    MergedObject, MergedSubscription, ObjectType, Schema, SchemaBuilder, SubscriptionType,
};
use auth::{Auth, AuthMutation, AuthQuery, AuthService};
use kernel::Deps;
use kernel::Domain;
use projects::{Projects, ProjectsMutation, ProjectsQuery, ProjectsSubscription};
use support::{
    KnowledgeBaseMutation, KnowledgeBaseQuery, SlaMutation, SlaQuery, Support, SupportMutation,
    SupportQuery, SupportSubscription, TicketService,
};

use crate::config::QueryLimitsConfig;
use crate::system::{SystemQuery, SystemSubscription};

/// Every domain's query root.
#[derive(MergedObject, Default)]
pub struct Query(
    SystemQuery,
    AuthQuery,
    ProjectsQuery,
    SupportQuery,
    SlaQuery,
    KnowledgeBaseQuery,
);

/// Every domain's mutation root.
#[derive(MergedObject, Default)]
pub struct Mutation(
    AuthMutation,
    ProjectsMutation,
    SupportMutation,
    SlaMutation,
    KnowledgeBaseMutation,
);

/// Every domain's subscription root.
#[derive(MergedSubscription, Default)]
pub struct Subscription(
    SystemSubscription,
    ProjectsSubscription,
    SupportSubscription,
);

/// The composed schema type.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema's shape and limits, without data.
pub fn builder(limits: &QueryLimitsConfig) -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(32)
    .limit_directives(50)
}

/// The schema with every domain installed.
pub fn build(
    limits: &QueryLimitsConfig,
    deps: &Deps,
    auth: Arc<AuthService>,
    tickets: Arc<TicketService>,
) -> AppSchema {
    let builder = Auth::install_with(builder(limits), auth);
    let builder = Projects::install(builder, deps);
    let builder = Support::install_with(builder, tickets);
    builder.data(deps.clone()).finish()
}

/// The SDL committed as `schema.graphql`.
pub fn sdl() -> String {
    builder(&QueryLimitsConfig::default()).finish().sdl()
}

/// One root field as a domain defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootField {
    /// `Query`, `Mutation` or `Subscription`.
    pub root: &'static str,
    /// The domain's root object, e.g. `AuthQuery`.
    pub owner: String,
    /// The field name, e.g. `me`.
    pub field: String,
}

/// Root fields of every domain root, listed separately so that a test can see
/// collisions that the merged schema hides (the first merged object wins).
pub fn domain_root_fields() -> Vec<RootField> {
    let mut fields = Vec::new();
    fields.extend(object_fields::<SystemQuery>("Query"));
    fields.extend(object_fields::<AuthQuery>("Query"));
    fields.extend(object_fields::<AuthMutation>("Mutation"));
    fields.extend(object_fields::<ProjectsQuery>("Query"));
    fields.extend(object_fields::<ProjectsMutation>("Mutation"));
    fields.extend(object_fields::<SupportQuery>("Query"));
    fields.extend(object_fields::<SupportMutation>("Mutation"));
    fields.extend(object_fields::<SlaQuery>("Query"));
    fields.extend(object_fields::<SlaMutation>("Mutation"));
    fields.extend(object_fields::<KnowledgeBaseQuery>("Query"));
    fields.extend(object_fields::<KnowledgeBaseMutation>("Mutation"));
    fields.extend(subscription_fields::<SystemSubscription>());
    fields.extend(subscription_fields::<SupportSubscription>());
    fields.extend(subscription_fields::<ProjectsSubscription>());
    fields
}

fn object_fields<T: ObjectType>(root: &'static str) -> Vec<RootField> {
    let mut registry = Registry::default();
    T::create_type_info(&mut registry);
    fields_of(&registry, root, T::type_name().into_owned())
}

fn subscription_fields<T: SubscriptionType>() -> Vec<RootField> {
    let mut registry = Registry::default();
    T::create_type_info(&mut registry);
    fields_of(&registry, "Subscription", T::type_name().into_owned())
}

fn fields_of(registry: &Registry, root: &'static str, owner: String) -> Vec<RootField> {
    registry
        .types
        .get(&owner)
        .and_then(|meta| meta.fields())
        .map(|fields| {
            fields
                .keys()
                .filter(|name| !name.starts_with("__"))
                .map(|name| RootField {
                    root,
                    owner: owner.clone(),
                    field: name.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}
