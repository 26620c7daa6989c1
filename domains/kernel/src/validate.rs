//! Input checks every domain shares, and the database-backed GraphQL enums.

use crate::error::{AppError, FieldError};

/// Trimmed text that is present and at most `max` characters; `field` names it.
pub fn required_text(value: &str, field: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError {
            field: field.into(),
            message: "This field is required".into(),
        });
    }
    if value.chars().count() > max {
        return Err(FieldError {
            field: field.into(),
            message: format!("Use at most {max} characters"),
        });
    }
    Ok(value.to_string())
}

/// [`required_text`] as a use-case error.
pub fn required(value: &str, field: &str, max: usize) -> Result<String, AppError> {
    required_text(value, field, max).map_err(|error| AppError::invalid_fields(vec![error]))
}

/// A stored vocabulary: one Rust enum that is the GraphQL enum and is stored as
/// text. `Variant = "db_value"` pairs give `as_db`, `from_db`, `ALL`, serde in
/// the database form, and diesel `ToSql`/`FromSql` over `Text`, so row structs
/// hold the enum itself. Attributes before the name (docs, `#[graphql(name = ...)]`)
/// go on the enum.
#[macro_export]
macro_rules! db_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $db:literal),+ $(,)? }) => {
        #[derive(
            ::async_graphql::Enum,
            ::diesel::expression::AsExpression,
            ::diesel::deserialize::FromSqlRow,
            ::serde::Serialize,
            ::serde::Deserialize,
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
        )]
        #[diesel(sql_type = ::diesel::sql_types::Text)]
        $(#[$meta])*
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $db)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Database form.
            pub fn as_db(self) -> &'static str {
                match self { $(Self::$variant => $db),+ }
            }

            /// Parses the database form.
            pub fn from_db(value: &str) -> Option<Self> {
                match value { $($db => Some(Self::$variant),)+ _ => None }
            }
        }

        $crate::db_text!($name);
    };
}

/// The diesel half of [`db_enum!`], for a hand-written enum that already has
/// `as_db(self) -> &'static str` and `from_db(&str) -> Option<Self>` and derives
/// `AsExpression` and `FromSqlRow` with `#[diesel(sql_type = Text)]`: stores it
/// as its database form, and refuses unknown text on reading.
#[macro_export]
macro_rules! db_text {
    ($name:ident) => {
        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::pg::Pg>,
            ) -> ::diesel::serialize::Result {
                <str as ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg>>::to_sql(
                    self.as_db(),
                    &mut out.reborrow(),
                )
            }
        }

        impl ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $name {
            fn from_sql(
                bytes: <::diesel::pg::Pg as ::diesel::backend::Backend>::RawValue<'_>,
            ) -> ::diesel::deserialize::Result<Self> {
                let text = <String as ::diesel::deserialize::FromSql<
                    ::diesel::sql_types::Text,
                    ::diesel::pg::Pg,
                >>::from_sql(bytes)?;
                Self::from_db(&text).ok_or_else(|| {
                    format!(concat!("unknown ", stringify!($name), " {:?}"), text).into()
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::db_enum! {
        /// A sample vocabulary.
        Sample {
            /// One word.
            First = "first",
            /// Two words.
            SecondOne = "second_one",
        }
    }

    #[test]
    fn db_enum_round_trips_in_the_database_form() {
        assert_eq!(Sample::ALL, &[Sample::First, Sample::SecondOne]);
        for &value in Sample::ALL {
            assert_eq!(Sample::from_db(value.as_db()), Some(value));
            let json = serde_json::to_value(value).expect("serialize");
            assert_eq!(json, serde_json::Value::from(value.as_db()));
            assert_eq!(
                serde_json::from_value::<Sample>(json).expect("deserialize"),
                value
            );
        }
        assert_eq!(Sample::SecondOne.as_db(), "second_one");
        assert_eq!(Sample::from_db("SECOND_ONE"), None);
        assert_eq!(Sample::from_db(""), None);
        assert!(serde_json::from_str::<Sample>("\"SecondOne\"").is_err());
    }

    #[test]
    fn text_must_be_present_and_short_enough() {
        assert_eq!(
            required_text("  Acme  ", "name", 10).ok().as_deref(),
            Some("Acme")
        );
        assert_eq!(
            required_text("   ", "name", 10).map_err(|e| e.field),
            Err("name".to_string())
        );
        assert!(required_text("abcdef", "name", 5).is_err());
        assert_eq!(required("x", "f", 5).ok().as_deref(), Some("x"));
    }
}
