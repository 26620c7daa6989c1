//! Request hygiene for every transport: alias limits, error codes for
//! pre-execution errors, and a last guard against leaking internal error text.
//!
//! This runs in the transports around execution rather than as an
//! async-graphql extension: any extension makes every field resolution build
//! a `ResolveInfo` and go through the extension chain, which cost the Kanban
//! board about 15% of its throughput (bench/board.sh).

mod depth;
mod order;
mod tokens;

pub use order::RootOrder;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, Request, Response, ServerError};
use kernel::error::INTERNAL_MESSAGE;

use crate::config::QueryLimitsConfig;

/// Code of a document refused because it introspects without permission.
pub const INTROSPECTION_DISABLED: &str = "INTROSPECTION_DISABLED";

pub use kernel::RequestMeta;

/// Code of a document that does not parse.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// Code of a document that fails validation or a query limit.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Counts the document's tokens, parses it once (the schema reuses the parsed
/// document) and checks the alias and depth limits and, for a caller who may
/// not introspect, that it does not; `Err` is the response to send instead of
/// executing.
pub fn check_request(
    request: &mut Request,
    limits: &QueryLimitsConfig,
    signed_in: bool,
) -> Result<(), Box<Response>> {
    let refuse = |message: String| {
        Box::new(Response::from_errors(vec![with_code(
            ServerError::new(message, None),
            VALIDATION_FAILED,
        )]))
    };
    let tokens = tokens::count_tokens(&request.query, limits.max_tokens);
    if tokens > limits.max_tokens {
        return Err(refuse(format!(
            "Document too large: more than {} tokens",
            limits.max_tokens
        )));
    }
    let document = match request.parsed_query() {
        Ok(document) => document,
        Err(error) => {
            return Err(Box::new(Response::from_errors(vec![with_code(
                error,
                PARSE_FAILED,
            )])));
        }
    };
    let aliases = count_aliases(document);
    if aliases > limits.max_aliases {
        return Err(refuse(format!(
            "Too many aliases: {aliases}, the limit is {}",
            limits.max_aliases
        )));
    }
    depth::check_depth(document, limits.max_depth)
        .map_err(|too_deep| refuse(too_deep.message()))?;
    if !limits.introspection.allows(signed_in) && depth::selects_introspection(document) {
        let message = if limits.introspection == crate::config::Introspection::Off {
            "Introspection is disabled on this server"
        } else {
            "Introspection needs a signed-in caller"
        };
        return Err(Box::new(Response::from_errors(vec![with_code(
            ServerError::new(message, None),
            INTROSPECTION_DISABLED,
        )])));
    }
    Ok(())
}

/// Removes the "Did you mean" suggestions that validation adds to its
/// messages: they reveal field and type names to callers who may not
/// introspect.
pub fn without_suggestions(mut response: Response) -> Response {
    for error in &mut response.errors {
        if let Some(start) = error.message.find(" Did you mean") {
            error.message.truncate(start);
        }
    }
    response
}

/// Gives request errors their code and replaces uncoded resolver errors with
/// the generic internal error (with the request id).
pub fn finish(response: Response, request_id: Option<&str>) -> Response {
    let request_error = response.data == async_graphql::Value::Null
        && response.errors.iter().all(|error| error.path.is_empty());
    let mut response = response;
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|extensions| extensions.get("code").is_some());
        if !has_code && request_error && error.path.is_empty() {
            *error = with_code(error.clone(), VALIDATION_FAILED);
        }
    }
    sanitize(response, request_id)
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
            None if is_argument_error(&error.message) => {
                *error = with_code(error.clone(), "BAD_USER_INPUT");
                false
            }
            None => {
                tracing::error!(error = %error.message, path = ?error.path, "uncoded resolver error");
                true
            }
            Some(code) => code == async_graphql::Value::from("INTERNAL_SERVER_ERROR"),
        };
        if internal {
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", "INTERNAL_SERVER_ERROR");
            if let Some(request_id) = request_id.filter(|id| !id.is_empty()) {
                extensions.set("requestId", request_id);
                error.message = format!("{INTERNAL_MESSAGE} (request id {request_id})");
            } else {
                error.message = INTERNAL_MESSAGE.to_string();
            }
            error.extensions = Some(extensions);
        } else if let Some(request_id) = request_id.filter(|id| !id.is_empty())
            && let Some(extensions) = error.extensions.as_mut()
            && extensions.get("code") == Some(&async_graphql::Value::from("SERVICE_UNAVAILABLE"))
        {
            // Like an internal error, an outage names the request for support.
            extensions.set("requestId", request_id);
            error.message = format!("{} (request id {request_id})", error.message);
        }
    }
    response
}

/// An argument value the schema's own parsing or validators refused (out of
/// a validator's range, say): the client's mistake, named by async-graphql's
/// fixed message prefixes, which quote only the type and the constraint.
fn is_argument_error(message: &str) -> bool {
    message.starts_with("Failed to parse \"") || message.starts_with("Expected input type \"")
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

    #[test]
    fn uncoded_resolver_errors_become_generic_internal_errors() {
        let mut leaked = ServerError::new("relation \"users\" does not exist", None);
        leaked.path = vec![async_graphql::PathSegment::Field("me".into())];
        let mut response = Response::new(async_graphql::Value::Object(Default::default()));
        response.errors = vec![leaked];
        let response = finish(response, Some("req-1"));
        let error = &response.errors[0];
        assert!(!error.message.contains("users"), "{}", error.message);
        assert!(error.message.contains("req-1"));
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        assert_eq!(
            code,
            Some(async_graphql::Value::from("INTERNAL_SERVER_ERROR"))
        );
    }

    #[test]
    fn argument_values_refused_by_a_validator_are_bad_user_input() {
        let mut refused = ServerError::new(
            "Failed to parse \"Int\": the value is 0, must be greater than or equal to 1",
            None,
        );
        refused.path = vec![async_graphql::PathSegment::Field("heartbeat".into())];
        let mut response = Response::new(async_graphql::Value::Null);
        response.errors = vec![refused];
        let response = finish(response, Some("req-1"));
        let error = &response.errors[0];
        assert!(
            error.message.contains("greater than or equal to 1"),
            "{}",
            error.message
        );
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        assert_eq!(code, Some(async_graphql::Value::from("BAD_USER_INPUT")));
    }

    #[test]
    fn request_errors_get_the_validation_code() {
        let response = finish(
            Response::from_errors(vec![ServerError::new("Unknown field", None)]),
            None,
        );
        let code = response.errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        assert_eq!(code, Some(async_graphql::Value::from(VALIDATION_FAILED)));
    }

    #[test]
    fn documents_that_do_not_parse_or_alias_too_much_are_refused_before_execution() {
        let limits = |max_aliases| QueryLimitsConfig {
            max_aliases,
            ..QueryLimitsConfig::default()
        };
        let mut broken = Request::new("{ a");
        let refused = check_request(&mut broken, &limits(10), false).expect_err("parse error");
        let code = refused.errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        assert_eq!(code, Some(async_graphql::Value::from(PARSE_FAILED)));
        let mut aliased = Request::new("{ a: __typename b: __typename }");
        assert!(check_request(&mut aliased, &limits(1), false).is_err());
        assert!(check_request(&mut Request::new("{ a: __typename }"), &limits(1), false).is_ok());
    }

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
