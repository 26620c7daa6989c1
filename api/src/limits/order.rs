//! Response keys in the order of the selection set, as the spec's "serialized
//! map ordering" asks. The executor answers a merged root (one object per
//! domain) grouped by domain, so the root's keys are put back in the order the
//! document selected them.

use async_graphql::Response;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};

/// The response keys of the chosen operation's root selection, in document
/// order, through fragments, each once.
#[derive(Debug, Default)]
pub struct RootOrder(Vec<String>);

impl RootOrder {
    /// The order for the operation `operation_name` selects (the only one when
    /// unnamed); empty when there is none to choose.
    pub fn of(document: &ExecutableDocument, operation_name: Option<&str>) -> Self {
        let Some(operation) = chosen(document, operation_name) else {
            return Self::default();
        };
        let mut keys = Vec::new();
        let mut fragments = Vec::new();
        collect(
            document,
            &operation.selection_set.node,
            &mut keys,
            &mut fragments,
        );
        Self(keys)
    }

    /// Reorders the response's root keys; keys not in the order (none are
    /// expected) keep their place after those that are.
    pub fn apply(&self, response: &mut Response) {
        if self.0.len() < 2 {
            return;
        }
        let async_graphql::Value::Object(data) = &mut response.data else {
            return;
        };
        let mut ordered = async_graphql::indexmap::IndexMap::with_capacity(data.len());
        for key in &self.0 {
            if let Some((name, value)) = data.shift_remove_entry(key.as_str()) {
                ordered.insert(name, value);
            }
        }
        ordered.extend(std::mem::take(data));
        *data = ordered;
    }
}

fn chosen<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(candidate, _)| candidate.as_str() == name)
            .map(|(_, operation)| &operation.node),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

fn collect<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    keys: &mut Vec<String>,
    fragments: &mut Vec<&'a str>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.as_str();
                if !keys.iter().any(|known| known == key) {
                    keys.push(key.to_string());
                }
            }
            Selection::InlineFragment(fragment) => {
                collect(document, &fragment.node.selection_set.node, keys, fragments);
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if fragments.contains(&name) {
                    continue;
                }
                fragments.push(name);
                if let Some(fragment) = document.fragments.get(name) {
                    collect(document, &fragment.node.selection_set.node, keys, fragments);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RootOrder;

    fn order(query: &str, operation: Option<&str>) -> Vec<String> {
        RootOrder::of(
            &async_graphql::parser::parse_query(query).expect("parses"),
            operation,
        )
        .0
    }

    #[test]
    fn keys_follow_the_document_through_aliases_and_fragments() {
        assert_eq!(
            order(
                "{ tickets { totalCount } b: me { id } ...F } fragment F on Query { a: apiVersion tickets { totalCount } }",
                None
            ),
            ["tickets", "b", "a"]
        );
        assert_eq!(
            order("query A { x } query B { y z }", Some("B")),
            ["y", "z"]
        );
        assert!(order("query A { x } query B { y }", None).is_empty());
    }
}
