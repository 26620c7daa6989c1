//! The projects domain's GraphQL roots and types.

pub mod loaders;
pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;
