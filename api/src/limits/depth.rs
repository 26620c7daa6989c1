//! Depth rules that tools can live with.
//!
//! The plain depth limit counts nested fields of the data graph. Introspection
//! (`__schema`, `__type`) is exempt from it, because the standard introspection
//! query of every tool nests `ofType` ten levels deep, and is held instead by
//! the rule graphql-js ships as `MaxIntrospectionDepthRule`: at most
//! [`MAX_INTROSPECTION_LIST_DEPTH`] nested `fields`, `interfaces`,
//! `possibleTypes` or `inputFields` (the lists that make circular introspection
//! documents expensive). Fragments are followed and each is measured once, so
//! a document cannot make these checks exponential.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Nesting of introspection lists at which a document is refused (as graphql-js).
pub const MAX_INTROSPECTION_LIST_DEPTH: usize = 3;

/// Why a document is too deep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TooDeep {
    /// The data graph nests deeper than the limit.
    Depth { depth: usize, limit: usize },
    /// An introspection field nests its lists too deeply.
    Introspection,
}

impl TooDeep {
    /// The message clients read.
    pub fn message(&self) -> String {
        match self {
            Self::Depth { depth, limit } => {
                format!("Query is nested too deep: {depth} levels, the limit is {limit}")
            }
            Self::Introspection => "Maximum introspection depth exceeded".to_string(),
        }
    }
}

/// Checks every operation and fragment of `document`.
pub fn check_depth(document: &ExecutableDocument, limit: usize) -> Result<(), TooDeep> {
    let mut measure = Measure {
        document,
        depths: HashMap::new(),
        introspection: HashMap::new(),
        visiting: Vec::new(),
    };
    for (_, operation) in document.operations.iter() {
        let depth = measure.depth(&operation.node.selection_set.node)?;
        if depth > limit {
            return Err(TooDeep::Depth { depth, limit });
        }
    }
    Ok(())
}

/// Whether any operation selects `__schema` or `__type` (at its root, where
/// they exist, directly or through fragments).
pub fn selects_introspection(document: &ExecutableDocument) -> bool {
    fn in_set<'a>(
        document: &'a ExecutableDocument,
        set: &'a SelectionSet,
        seen: &mut Vec<&'a str>,
    ) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(field) => is_introspection_root(field.node.name.node.as_str()),
            Selection::InlineFragment(fragment) => {
                in_set(document, &fragment.node.selection_set.node, seen)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if seen.contains(&name) {
                    return false;
                }
                seen.push(name);
                document.fragments.get(name).is_some_and(|fragment| {
                    in_set(document, &fragment.node.selection_set.node, seen)
                })
            }
        })
    }
    let mut seen = Vec::new();
    document
        .operations
        .iter()
        .any(|(_, operation)| in_set(document, &operation.node.selection_set.node, &mut seen))
}

fn is_introspection_root(name: &str) -> bool {
    matches!(name, "__schema" | "__type")
}

fn is_introspection_list(name: &str) -> bool {
    matches!(
        name,
        "fields" | "interfaces" | "possibleTypes" | "inputFields"
    )
}

struct Measure<'a> {
    document: &'a ExecutableDocument,
    /// Depth of each fragment's selection, once measured.
    depths: HashMap<&'a str, usize>,
    /// Deepest introspection list nesting inside each fragment, once measured.
    introspection: HashMap<&'a str, usize>,
    /// Fragments on the current path (a cycle is a validation error, not ours).
    visiting: Vec<&'a str>,
}

impl<'a> Measure<'a> {
    /// Depth of the data-graph fields under `set`; introspection roots count
    /// as one level and have their own rule.
    fn depth(&mut self, set: &'a SelectionSet) -> Result<usize, TooDeep> {
        let mut deepest = 0;
        for selection in &set.items {
            let depth = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if is_introspection_root(field.name.node.as_str()) {
                        if self.list_depth(&field.selection_set.node)
                            >= MAX_INTROSPECTION_LIST_DEPTH
                        {
                            return Err(TooDeep::Introspection);
                        }
                        1
                    } else {
                        1 + self.depth(&field.selection_set.node)?
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.depth(&fragment.node.selection_set.node)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(depth) = self.depths.get(name) {
                        *depth
                    } else if let Some(set) = self.enter(name) {
                        let depth = self.depth(set);
                        self.visiting.pop();
                        let depth = depth?;
                        self.depths.insert(name, depth);
                        depth
                    } else {
                        0
                    }
                }
            };
            deepest = deepest.max(depth);
        }
        Ok(deepest)
    }

    /// The deepest nesting of introspection lists under `set`.
    fn list_depth(&mut self, set: &'a SelectionSet) -> usize {
        let mut deepest = 0;
        for selection in &set.items {
            let depth = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let inner = self.list_depth(&field.selection_set.node);
                    if is_introspection_list(field.name.node.as_str()) {
                        inner + 1
                    } else {
                        inner
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.list_depth(&fragment.node.selection_set.node)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(depth) = self.introspection.get(name) {
                        *depth
                    } else if let Some(set) = self.enter(name) {
                        let depth = self.list_depth(set);
                        self.visiting.pop();
                        self.introspection.insert(name, depth);
                        depth
                    } else {
                        0
                    }
                }
            };
            deepest = deepest.max(depth);
        }
        deepest
    }

    /// The fragment's selection, marked as on the path; `None` when unknown
    /// or already on the path.
    fn enter(&mut self, name: &'a str) -> Option<&'a SelectionSet> {
        if self.visiting.contains(&name) {
            return None;
        }
        let fragment = self.document.fragments.get(name)?;
        self.visiting.push(name);
        Some(&fragment.node.selection_set.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, limit: usize) -> Result<(), TooDeep> {
        check_depth(
            &async_graphql::parser::parse_query(query).expect("parses"),
            limit,
        )
    }

    #[test]
    fn data_depth_counts_fields_through_fragments() {
        assert_eq!(check("{ a { b { c } } }", 3), Ok(()));
        assert_eq!(
            check("{ a { ...F } } fragment F on T { b { c } }", 2),
            Err(TooDeep::Depth { depth: 3, limit: 2 })
        );
        assert_eq!(check("{ a { ... on T { b } } }", 2), Ok(()));
    }

    #[test]
    fn introspection_is_held_by_list_nesting_not_by_depth() {
        let type_ref =
            "{ __type(name: \"Q\") { ofType { ofType { ofType { ofType { name } } } } } }";
        assert_eq!(check(type_ref, 2), Ok(()));
        assert_eq!(
            check(
                "{ __schema { types { fields { type { fields { name } } } } } }",
                12
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
                12
            ),
            Err(TooDeep::Introspection)
        );
        assert_eq!(
            check(
                "{ __schema { types { ...T } } } fragment T on __Type { fields { type { interfaces { possibleTypes { name } } } } }",
                12
            ),
            Err(TooDeep::Introspection)
        );
    }

    #[test]
    fn fragment_cycles_and_fan_out_stay_cheap() {
        assert_eq!(check("{ ...A } fragment A on Q { ...A }", 1), Ok(()));
        let mut fan_out = String::from("{ ...F0 }");
        for level in 0..40 {
            fan_out.push_str(&format!(
                " fragment F{level} on Q {{ a: ...F{next} b: ...F{next} }}",
                next = level + 1
            ));
        }
        fan_out.push_str(" fragment F40 on Q { leaf }");
        let fan_out = fan_out.replace("a: ", "").replace("b: ", "");
        assert_eq!(check(&fan_out, 2), Ok(()));
    }
}
