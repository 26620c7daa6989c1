//! Breaking changes between two SDL documents: what would break a client
//! written against the older one. `make test` compares the code's schema with
//! the last released one (`schema.released.graphql`) and fails on any change
//! found here that `CHANGELOG.md` does not list.
//!
//! Breaking: a removed type, field, argument, input field, enum value, union
//! member or implemented interface; a changed type kind; an output that may
//! now be null (or has another type); an input that is now required (or has
//! another type); a new required argument or input field. Additions and
//! output fields made non-null are not breaking.

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, FieldDefinition, InputValueDefinition, ServiceDocument, Type, TypeDefinition,
    TypeKind, TypeSystemDefinition,
};
use async_graphql::parser::{Positioned, parse_schema};

/// Every breaking change from `released` to `current`, one line each, sorted.
/// Each line is stable text that a changelog entry quotes to accept it.
pub fn breaking_changes(released: &str, current: &str) -> Result<Vec<String>, String> {
    let released = parse_schema(released).map_err(|error| format!("released SDL: {error}"))?;
    let current = parse_schema(current).map_err(|error| format!("current SDL: {error}"))?;
    let released = types_of(&released);
    let current = types_of(&current);
    let mut changes = Vec::new();
    for (name, old) in &released {
        match current.get(name) {
            None => changes.push(format!("{name}: type removed")),
            Some(new) => compare_type(name, old, new, &mut changes),
        }
    }
    changes.sort();
    Ok(changes)
}

fn types_of(document: &ServiceDocument) -> HashMap<String, &TypeDefinition> {
    document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            TypeSystemDefinition::Type(ty) => Some((ty.node.name.node.to_string(), &ty.node)),
            _ => None,
        })
        .collect()
}

fn kind_name(kind: &TypeKind) -> &'static str {
    match kind {
        TypeKind::Scalar => "scalar",
        TypeKind::Object(_) => "object",
        TypeKind::Interface(_) => "interface",
        TypeKind::Union(_) => "union",
        TypeKind::Enum(_) => "enum",
        TypeKind::InputObject(_) => "input object",
    }
}

fn compare_type(name: &str, old: &TypeDefinition, new: &TypeDefinition, changes: &mut Vec<String>) {
    match (&old.kind, &new.kind) {
        (TypeKind::Object(old_object), TypeKind::Object(new_object)) => {
            removed_names(
                name,
                "interface",
                &old_object.implements,
                &new_object.implements,
                changes,
            );
            compare_fields(name, &old_object.fields, &new_object.fields, changes);
        }
        (TypeKind::Interface(old_interface), TypeKind::Interface(new_interface)) => {
            removed_names(
                name,
                "interface",
                &old_interface.implements,
                &new_interface.implements,
                changes,
            );
            compare_fields(name, &old_interface.fields, &new_interface.fields, changes);
        }
        (TypeKind::Union(old_union), TypeKind::Union(new_union)) => {
            removed_names(
                name,
                "member",
                &old_union.members,
                &new_union.members,
                changes,
            );
        }
        (TypeKind::Enum(old_enum), TypeKind::Enum(new_enum)) => {
            for value in &old_enum.values {
                let value = &value.node.value.node;
                if !new_enum
                    .values
                    .iter()
                    .any(|new| new.node.value.node == *value)
                {
                    changes.push(format!("{name}.{value}: enum value removed"));
                }
            }
        }
        (TypeKind::InputObject(old_input), TypeKind::InputObject(new_input)) => {
            compare_inputs(
                name,
                "input field",
                &old_input.fields,
                &new_input.fields,
                changes,
            );
        }
        (TypeKind::Scalar, TypeKind::Scalar) => {}
        (old_kind, new_kind) => changes.push(format!(
            "{name}: kind changed from {} to {}",
            kind_name(old_kind),
            kind_name(new_kind)
        )),
    }
}

fn removed_names(
    owner: &str,
    what: &str,
    old: &[Positioned<async_graphql::Name>],
    new: &[Positioned<async_graphql::Name>],
    changes: &mut Vec<String>,
) {
    for name in old {
        if !new.iter().any(|candidate| candidate.node == name.node) {
            changes.push(format!("{owner}: {what} {} removed", name.node));
        }
    }
}

fn compare_fields(
    owner: &str,
    old: &[Positioned<FieldDefinition>],
    new: &[Positioned<FieldDefinition>],
    changes: &mut Vec<String>,
) {
    for field in old {
        let field = &field.node;
        let path = format!("{owner}.{}", field.name.node);
        let Some(current) = new
            .iter()
            .find(|candidate| candidate.node.name.node == field.name.node)
        else {
            changes.push(format!("{path}: field removed"));
            continue;
        };
        let current = &current.node;
        if !output_accepts(&field.ty.node, &current.ty.node) {
            changes.push(format!(
                "{path}: type changed from {} to {}",
                field.ty.node, current.ty.node
            ));
        }
        compare_inputs(
            &path,
            "argument",
            &field.arguments,
            &current.arguments,
            changes,
        );
    }
}

fn compare_inputs(
    owner: &str,
    what: &str,
    old: &[Positioned<InputValueDefinition>],
    new: &[Positioned<InputValueDefinition>],
    changes: &mut Vec<String>,
) {
    for input in old {
        let input = &input.node;
        let name = &input.name.node;
        match new
            .iter()
            .find(|candidate| candidate.node.name.node == *name)
        {
            None => changes.push(format!("{owner}: {what} {name} removed")),
            Some(current) if !input_accepts(&input.ty.node, &current.node.ty.node) => {
                changes.push(format!(
                    "{owner}: {what} {name} changed from {} to {}",
                    input.ty.node, current.node.ty.node
                ));
            }
            Some(_) => {}
        }
    }
    for input in new {
        let input = &input.node;
        let is_new = !old
            .iter()
            .any(|candidate| candidate.node.name.node == input.name.node);
        if is_new && !input.ty.node.nullable && input.default_value.is_none() {
            changes.push(format!(
                "{owner}: required {what} {} added",
                input.name.node
            ));
        }
    }
}

/// Whether a client reading `old` can read `new` (non-null may be added).
fn output_accepts(old: &Type, new: &Type) -> bool {
    if !old.nullable && new.nullable {
        return false;
    }
    match (&old.base, &new.base) {
        (BaseType::Named(old), BaseType::Named(new)) => old == new,
        (BaseType::List(old), BaseType::List(new)) => output_accepts(old, new),
        _ => false,
    }
}

/// Whether every value a client sent for `old` is still valid for `new`
/// (non-null may be dropped).
fn input_accepts(old: &Type, new: &Type) -> bool {
    if old.nullable && !new.nullable {
        return false;
    }
    match (&old.base, &new.base) {
        (BaseType::Named(old), BaseType::Named(new)) => old == new,
        (BaseType::List(old), BaseType::List(new)) => input_accepts(old, new),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::breaking_changes;

    const RELEASED: &str = r#"
        interface Node { id: ID! }
        type User implements Node { id: ID! name: String tags: [String!]! email: String! }
        type Query { user(id: ID!, archived: Boolean): User! users(first: Int): [User!]! }
        enum Role { ADMIN CLIENT }
        input UserInput { name: String! note: String }
        union Hit = User
    "#;

    fn changes(current: &str) -> Vec<String> {
        breaking_changes(RELEASED, current).expect("both parse")
    }

    #[test]
    fn additions_and_stricter_outputs_are_not_breaking() {
        let current = r#"
            interface Node { id: ID! }
            type User implements Node { id: ID! name: String! tags: [String!]! email: String! age: Int }
            type Query { user(id: ID!, archived: Boolean, extra: Int): User! users(first: Int = 10): [User!]! me: User }
            enum Role { ADMIN CLIENT PARTNER }
            input UserInput { name: String note: String label: String = "x" }
            union Hit = User
            type Extra { a: Int }
        "#;
        assert_eq!(changes(current), Vec::<String>::new());
    }

    #[test]
    fn removals_looser_outputs_and_stricter_inputs_are_breaking() {
        let current = r#"
            interface Node { id: ID! }
            type User { id: ID! name: String tags: [String]! }
            type Query { user(id: ID, archived: Boolean!, region: String!): User users: [User!]! }
            enum Role { ADMIN }
            input UserInput { name: String! note: Int scope: String! }
            scalar Hit
        "#;
        assert_eq!(
            changes(current),
            vec![
                "Hit: kind changed from union to scalar",
                "Query.user: argument archived changed from Boolean to Boolean!",
                "Query.user: required argument region added",
                "Query.user: type changed from User! to User",
                "Query.users: argument first removed",
                "Role.CLIENT: enum value removed",
                "User.email: field removed",
                "User.tags: type changed from [String!]! to [String]!",
                "User: interface Node removed",
                "UserInput: input field note changed from String to Int",
                "UserInput: required input field scope added",
            ]
        );
    }

    #[test]
    fn a_removed_type_is_one_change() {
        let current = "type Query { users(first: Int): [Int] }";
        let found = changes(current);
        assert!(
            found.contains(&"User: type removed".to_string()),
            "{found:?}"
        );
        assert!(found.contains(&"Query.users: type changed from [User!]! to [Int]".to_string()));
    }
}
