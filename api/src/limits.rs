//! Request hygiene for every transport: alias limits, error codes for
//! pre-execution errors, and a last guard against leaking internal error text.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextSubscribe,
    NextValidation,
};
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult, Variables,
};
use futures_util::StreamExt;
use kernel::error::INTERNAL_MESSAGE;

/// Code of a document that does not parse.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// Code of a document that fails validation or a query limit.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

pub use kernel::RequestMeta;

/// The hygiene extension; `max_aliases` bounds aliased fields per document.
pub struct Hygiene {
    /// Most aliased fields one document may contain.
    pub max_aliases: usize,
}

impl ExtensionFactory for Hygiene {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(HygieneExtension {
            max_aliases: self.max_aliases,
        })
    }
}

struct HygieneExtension {
    max_aliases: usize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for HygieneExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(|error| with_code(error, PARSE_FAILED))?;
        let aliases = count_aliases(&document);
        if aliases > self.max_aliases {
            return Err(with_code(
                ServerError::new(
                    format!(
                        "Too many aliases: {aliases}, the limit is {}",
                        self.max_aliases
                    ),
                    None,
                ),
                VALIDATION_FAILED,
            ));
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| with_code(error, VALIDATION_FAILED))
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let request_id = ctx
            .data_opt::<RequestMeta>()
            .map(|meta| meta.request_id.clone());
        sanitize(next.run(ctx, operation_name).await, request_id.as_deref())
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let request_id = ctx
            .data_opt::<RequestMeta>()
            .map(|meta| meta.request_id.clone());
        next.run(ctx, stream)
            .map(move |response| sanitize(response, request_id.as_deref()))
            .boxed()
    }
}

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

/// Every resolver error must carry a code. One without a code came from a
/// `Display` conversion of some library error, whose text may contain SQL or
/// paths: log it and answer with the generic internal error instead.
fn sanitize(mut response: Response, request_id: Option<&str>) -> Response {
    for error in &mut response.errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .cloned();
        let internal = match code {
            None => {
                tracing::error!(error = %error.message, path = ?error.path, "uncoded resolver error");
                true
            }
            Some(code) => code == async_graphql::Value::from("INTERNAL_SERVER_ERROR"),
        };
        if internal {
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", "INTERNAL_SERVER_ERROR");
            if let Some(request_id) = request_id {
                extensions.set("requestId", request_id);
                error.message = format!("{INTERNAL_MESSAGE} (request id {request_id})");
            } else {
                error.message = INTERNAL_MESSAGE.to_string();
            }
            error.extensions = Some(extensions);
        }
    }
    response
}

fn count_aliases(document: &ExecutableDocument) -> usize {
    let in_operations: usize = document
        .operations
        .iter()
        .map(|(_, operation)| aliases_in(&operation.node.selection_set.node))
        .sum();
    let in_fragments: usize = document
        .fragments
        .values()
        .map(|fragment| aliases_in(&fragment.node.selection_set.node))
        .sum();
    in_operations + in_fragments
}

fn aliases_in(selection_set: &SelectionSet) -> usize {
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases_in(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases(query: &str) -> usize {
        count_aliases(&async_graphql::parser::parse_query(query).expect("parses"))
    }

    #[test]
    fn aliases_are_counted_in_operations_fragments_and_nested_fields() {
        assert_eq!(aliases("{ a: __typename b: __typename }"), 2);
        assert_eq!(
            aliases("query { x: me { y: id ...F } } fragment F on User { z: id }"),
            3
        );
        assert_eq!(aliases("{ __typename }"), 0);
    }
}
