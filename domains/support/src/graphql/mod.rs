//! The support domain's GraphQL roots and types.

pub mod tickets;
