//! Knowledge base: categories and articles for the public site and staff.
//!
//! Published articles are readable by anyone, signed in or not; drafts only by
//! staff holding `support:kb.write` (everyone else gets `NOT_FOUND`). Staff with
//! that permission write categories and articles. Slugs are generated from
//! names and titles when not given (lower-case ASCII words joined by `-`, made
//! unique with `-2`, `-3`, ...) and validated when given. Search is PostgreSQL
//! full-text search over published articles, ranked with `ts_rank_cd` on the
//! generated `kb_articles.search` column (title weighted A, body B).

pub mod graphql;
pub mod model;
pub mod policy;
pub mod repo;
pub mod service;
pub mod slug;

pub use service::KnowledgeBase;
