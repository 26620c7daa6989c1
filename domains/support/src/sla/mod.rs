//! SLAs: targets per priority, the business calendar the clocks run on, and
//! each ticket's SLA computed from its history by a pure engine.

pub mod engine;
pub mod graphql;
pub mod model;
pub mod repo;
pub mod service;

pub use engine::{SlaError, SlaSnapshot, SlaState, Targets, TicketFact, compute};
pub use service::{SlaAdmin, SlaRules};
