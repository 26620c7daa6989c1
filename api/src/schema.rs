//! The one GraphQL schema: every domain's roots merged, plus limits.
//!
//! `builder()` gives the shape without I/O; the server and the SDL test share it.

use async_graphql::registry::Registry;

use async_graphql::{
    MergedObject, MergedSubscription, ObjectType, Schema, SchemaBuilder, SubscriptionType,
};

use crate::config::QueryLimitsConfig;
use crate::domains::{Domains, crate_of};
use crate::system::{SystemQuery, SystemSubscription};

/// One line per root: each domain's query, mutation and (where live)
/// subscription root. The merged roots and [`domain_root_fields`] both come
/// from this list.
macro_rules! roots {
    (
        query: $($query:ty),+ ;
        mutation: $($mutation:ty),+ ;
        subscription: $($subscription:ty),+ ;
    ) => {
        /// Every domain's query root.
        #[derive(MergedObject, Default)]
        pub struct Query($($query),+);

        /// Every domain's mutation root.
        #[derive(MergedObject, Default)]
        pub struct Mutation($($mutation),+);

        /// Every domain's subscription root.
        #[derive(MergedSubscription, Default)]
        pub struct Subscription($($subscription),+);

        /// Root fields of every domain root, listed separately so that a test can see
        /// collisions that the merged schema hides (the first merged object wins).
        pub fn domain_root_fields() -> Vec<RootField> {
            let mut fields = Vec::new();
            $(fields.extend(object_fields::<$query>("Query"));)+
            $(fields.extend(object_fields::<$mutation>("Mutation"));)+
            $(fields.extend(subscription_fields::<$subscription>());)+
            fields
        }
    };
}

roots! {
    query: SystemQuery,
        auth::AuthQuery,
        files::FilesQuery,
        projects::ProjectsQuery,
        support::SupportQuery;
    mutation: auth::AuthMutation,
        files::FilesMutation,
        projects::ProjectsMutation,
        support::SupportMutation;
    subscription: SystemSubscription,
        projects::ProjectsSubscription,
        support::SupportSubscription;
}

/// The composed schema type.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema's shape and limits, without data.
pub fn builder(limits: &QueryLimitsConfig) -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(32)
    .limit_directives(50)
}

/// The schema with every domain installed.
pub fn build(limits: &QueryLimitsConfig, deps: &kernel::Deps, domains: &Domains) -> AppSchema {
    domains.install(builder(limits)).data(deps.clone()).finish()
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
    /// The crate that defines it, e.g. `fluxorae_auth`.
    pub crate_name: &'static str,
    /// The field name, e.g. `me`.
    pub field: String,
}

fn object_fields<T: ObjectType>(root: &'static str) -> Vec<RootField> {
    let mut registry = Registry::default();
    T::create_type_info(&mut registry);
    fields_of(
        &registry,
        root,
        T::type_name().into_owned(),
        crate_of::<T>(),
    )
}

fn subscription_fields<T: SubscriptionType>() -> Vec<RootField> {
    let mut registry = Registry::default();
    T::create_type_info(&mut registry);
    fields_of(
        &registry,
        "Subscription",
        T::type_name().into_owned(),
        crate_of::<T>(),
    )
}

fn fields_of(
    registry: &Registry,
    root: &'static str,
    owner: String,
    crate_name: &'static str,
) -> Vec<RootField> {
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
                    crate_name,
                    field: name.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}
