//! SLA policies, the business calendar and a ticket's SLA over GraphQL; the
//! roots are merged into the support domain's roots.

pub mod mutation;
pub mod query;
pub mod types;
