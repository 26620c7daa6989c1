//! The support domain's GraphQL: one query, one mutation and one subscription
//! root, each merging the tickets' root with those of the sub-features (SLAs,
//! knowledge base).

pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;
