//! Identifiers: UUIDv7 everywhere, `ID` on the wire.

use async_graphql::ID;
use uuid::Uuid;

use crate::error::AppError;

/// A new time-ordered id.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Parses a GraphQL `ID` argument; `field` names it in the error.
pub fn parse_id(id: &ID, field: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.as_str()).map_err(|_| AppError::invalid_field(field, "Not a valid id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_ids_are_bad_input_naming_the_field() {
        let error = parse_id(&ID::from("42"), "projectId").expect_err("invalid");
        assert_eq!(error.fields()[0].field, "projectId");
        let id = new_id();
        assert_eq!(parse_id(&ID::from(id.to_string()), "id").ok(), Some(id));
    }
}
