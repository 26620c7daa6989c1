//! Guards on the shape of the code: committed SDL, root field ownership, crate edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_schema_graphql_matches_the_code() {
    let committed = std::fs::read_to_string(repo_root().join("schema.graphql"))
        .expect("schema.graphql exists at the repository root");
    let generated = fluxorae::schema::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date; refresh it with `make schema` \
         (cargo run -q -p fluxorae -- print-schema > schema.graphql)"
    );
}

#[test]
fn no_two_domain_roots_define_the_same_root_field() {
    let mut owners: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for field in fluxorae::schema::domain_root_fields() {
        owners
            .entry((field.root.to_string(), field.field))
            .or_default()
            .push(field.owner);
    }
    let clashes: Vec<_> = owners
        .iter()
        .filter(|(_, owners)| owners.len() > 1)
        .collect();
    assert!(clashes.is_empty(), "root fields defined twice: {clashes:?}");
}

#[test]
fn every_merged_root_field_comes_from_a_listed_domain_root() {
    let schema = fluxorae::schema::builder(&Default::default()).finish();
    let document = async_graphql::parser::parse_schema(schema.sdl()).expect("sdl parses");
    let mut merged = BTreeSet::new();
    for definition in document.definitions {
        if let async_graphql::parser::types::TypeSystemDefinition::Type(ty) = definition
            && let async_graphql::parser::types::TypeKind::Object(object) = &ty.node.kind
        {
            let root = ty.node.name.node.as_str();
            if ["Query", "Mutation", "Subscription"].contains(&root) {
                for field in &object.fields {
                    merged.insert((root.to_string(), field.node.name.node.to_string()));
                }
            }
        }
    }
    let listed: BTreeSet<_> = fluxorae::schema::domain_root_fields()
        .into_iter()
        .map(|field| (field.root.to_string(), field.field))
        .collect();
    assert_eq!(
        merged, listed,
        "schema::domain_root_fields must list every domain root merged into the schema"
    );
}

/// Edges declared in ARCHITECTURE.md between the crate-edges markers, as `from -> to`.
fn declared_edges() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = text
        .find("<!-- crate-edges -->")
        .expect("crate-edges marker");
    let end = text
        .find("<!-- /crate-edges -->")
        .expect("crate-edges end marker");
    text[start..end]
        .lines()
        .filter_map(|line| {
            let (from, to) = line.trim().split_once("->")?;
            Some((from.trim().to_string(), to.trim().to_string()))
        })
        .collect()
}

#[test]
fn crates_depend_only_along_edges_that_architecture_md_declares() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("metadata json");
    let packages = metadata["packages"].as_array().expect("packages");
    let members: BTreeSet<String> = packages
        .iter()
        .filter_map(|package| package["name"].as_str().map(str::to_string))
        .collect();
    let mut actual = BTreeSet::new();
    for package in packages {
        let from = package["name"].as_str().unwrap_or_default().to_string();
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            let to = dependency["name"].as_str().unwrap_or_default();
            if members.contains(to) && dependency["kind"].is_null() {
                actual.insert((from.clone(), to.to_string()));
            }
        }
    }
    let declared = declared_edges();
    let undeclared: Vec<_> = actual.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "crate edges missing from ARCHITECTURE.md (crate-edges block): {undeclared:?}"
    );
}

#[test]
fn every_listed_domain_merges_a_root_and_every_root_belongs_to_a_listed_domain() {
    let domains: BTreeSet<&str> = fluxorae::domains::catalog()
        .iter()
        .map(|entry| entry.crate_name)
        .collect();
    let server = fluxorae::domains::crate_of::<fluxorae::schema::Query>();
    let root_crates: BTreeSet<&str> = fluxorae::schema::domain_root_fields()
        .iter()
        .map(|field| field.crate_name)
        .collect();
    let without_roots: Vec<_> = domains.difference(&root_crates).collect();
    assert!(
        without_roots.is_empty(),
        "domains in api/src/domains.rs whose roots are not merged in api/src/schema.rs: {without_roots:?}"
    );
    let unlisted: Vec<_> = root_crates
        .iter()
        .filter(|name| **name != server && !domains.contains(*name))
        .collect();
    assert!(
        unlisted.is_empty(),
        "roots merged in api/src/schema.rs from crates missing in api/src/domains.rs: {unlisted:?}"
    );
}

#[test]
fn each_domain_declares_only_permissions_under_its_own_name() {
    for entry in fluxorae::domains::catalog() {
        for permission in entry.permissions {
            assert!(
                permission.name.starts_with(&format!("{}:", entry.name)),
                "{} declares {}",
                entry.name,
                permission.name
            );
        }
    }
}

// Multi-threaded: the first test to need the template database migrates it,
// and diesel-async's migration harness blocks.
#[tokio::test(flavor = "multi_thread")]
async fn the_permissions_roles_hold_are_exactly_those_the_domains_declare() {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Granted {
        #[diesel(sql_type = diesel::sql_types::Text)]
        permission: String,
    }
    let database = fluxorae_tests::TestDatabase::create().await;
    let mut conn = database.connect().await;
    let granted: BTreeSet<String> =
        diesel::sql_query("SELECT DISTINCT permission FROM role_permissions")
            .load::<Granted>(&mut conn)
            .await
            .expect("role_permissions")
            .into_iter()
            .map(|row| row.permission)
            .collect();
    let declared: BTreeSet<String> = fluxorae::domains::catalog()
        .iter()
        .flat_map(|entry| entry.permissions.iter().map(|p| p.name.to_string()))
        .collect();
    assert_eq!(
        granted, declared,
        "a permission granted by a migration but not declared by its domain's \
         `permissions()` (or the reverse) is not registered"
    );
}

/// The lines quoted in backticks in CHANGELOG.md's "Unreleased" section.
fn accepted_breaking_changes() -> BTreeSet<String> {
    let changelog = std::fs::read_to_string(repo_root().join("CHANGELOG.md"))
        .expect("CHANGELOG.md exists at the repository root");
    let unreleased = changelog
        .split("\n## ")
        .find(|section| section.starts_with("Unreleased"))
        .expect("CHANGELOG.md has an Unreleased section");
    unreleased
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_schema_breaks_the_released_one_only_where_the_changelog_says() {
    let released = std::fs::read_to_string(repo_root().join("schema.released.graphql"))
        .expect("schema.released.graphql exists at the repository root");
    let changes = fluxorae::schema_compat::breaking_changes(&released, &fluxorae::schema::sdl())
        .expect("both schemas parse");
    let accepted = accepted_breaking_changes();
    let unlisted: Vec<_> = changes
        .iter()
        .filter(|change| !accepted.contains(*change))
        .collect();
    assert!(
        unlisted.is_empty(),
        "breaking schema changes not listed under \"Unreleased\" in CHANGELOG.md \
         (quote each line in backticks with what clients do instead):\n{}",
        unlisted
            .iter()
            .map(|change| format!("- `{change}`"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_breaking_change_check_sees_a_removed_field() {
    let released = std::fs::read_to_string(repo_root().join("schema.released.graphql"))
        .expect("schema.released.graphql");
    let without_me = released.replacen("\tme: ", "\tformerlyMe: ", 1);
    assert_ne!(without_me, released, "the released schema has Query.me");
    let changes =
        fluxorae::schema_compat::breaking_changes(&released, &without_me).expect("both parse");
    assert!(
        changes.contains(&"Query.me: field removed".to_string()),
        "{changes:?}"
    );
}
