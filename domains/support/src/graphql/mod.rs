//! The support domain's GraphQL roots and types.

pub mod kb;
pub mod sla_admin;
pub mod tickets;
