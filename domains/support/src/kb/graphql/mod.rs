//! The knowledge base over GraphQL: public reads (published articles need no
//! sign-in), full-text search, and staff writes guarded by `support:kb.write`.
//! The roots are merged into the support domain's roots.

pub mod mutation;
pub mod query;
pub mod types;

use std::sync::Arc;

use async_graphql::Context;

use crate::kb::KnowledgeBase;

/// The knowledge base service the domain installed.
fn knowledge_base<'a>(ctx: &Context<'a>) -> &'a Arc<KnowledgeBase> {
    ctx.data_unchecked::<Arc<KnowledgeBase>>()
}
