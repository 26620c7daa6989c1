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

/// One field of an object type in the SDL.
struct SdlField {
    owner: String,
    name: String,
    /// Arguments: name, named type, and whether a value must be given.
    args: Vec<(String, String, bool)>,
    /// The named type it returns, lists and non-null unwrapped.
    returns: String,
    list: bool,
}

/// Every field of every object type of the schema, by type.
fn sdl_fields(sdl: &str) -> BTreeMap<String, Vec<SdlField>> {
    use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
    fn named(ty: &Type) -> (String, bool) {
        match &ty.base {
            BaseType::Named(name) => (name.to_string(), false),
            BaseType::List(inner) => (named(inner).0, true),
        }
    }
    let document = async_graphql::parser::parse_schema(sdl).expect("sdl parses");
    let mut types = BTreeMap::new();
    for definition in document.definitions {
        if let TypeSystemDefinition::Type(ty) = definition
            && let TypeKind::Object(object) = &ty.node.kind
        {
            let owner = ty.node.name.node.to_string();
            let fields = object
                .fields
                .iter()
                .map(|field| {
                    let field = &field.node;
                    let (returns, list) = named(&field.ty.node);
                    SdlField {
                        owner: owner.clone(),
                        name: field.name.node.to_string(),
                        args: field
                            .arguments
                            .iter()
                            .map(|arg| {
                                let arg = &arg.node;
                                let required = !arg.ty.node.nullable && arg.default_value.is_none();
                                (arg.name.node.to_string(), named(&arg.ty.node).0, required)
                            })
                            .collect(),
                        returns,
                        list,
                    }
                })
                .collect();
            types.insert(owner, fields);
        }
    }
    types
}

/// A literal for a required argument of a scalar type, or `None` when the
/// guard cannot make one up.
fn placeholder(scalar: &str) -> Option<&'static str> {
    match scalar {
        "ID" => Some("\"00000000-0000-0000-0000-000000000000\""),
        "String" => Some("\"x\""),
        "Int" => Some("1"),
        "Boolean" => Some("false"),
        _ => None,
    }
}

/// The complexity async-graphql computes for `document` on the real schema.
async fn complexity_of(
    schema: &async_graphql::Schema<
        fluxorae::schema::Query,
        fluxorae::schema::Mutation,
        fluxorae::schema::Subscription,
    >,
    document: &str,
) -> usize {
    let response = schema.execute(document).await;
    assert!(
        response.errors.is_empty(),
        "{document}: {:?}",
        response.errors
    );
    let analyzer = response
        .extensions
        .get("analyzer")
        .expect("analyzer extension");
    let async_graphql::Value::Object(analyzer) = analyzer else {
        panic!("analyzer: {analyzer:?}");
    };
    match analyzer.get("complexity") {
        Some(async_graphql::Value::Number(number)) => {
            number.as_u64().expect("whole complexity") as usize
        }
        other => panic!("complexity: {other:?}"),
    }
}

/// Every field that pages with `first` (every connection, and lists such as
/// `searchKnowledgeBase`) costs its selection once per row it may return:
/// `first` times, or the default page size when `first` is omitted. A
/// domain that adds a list without `kernel::cost::page` fails here.
#[tokio::test]
async fn every_paged_field_costs_its_selection_once_per_row_of_the_page() {
    let limits = fluxorae::config::QueryLimitsConfig {
        max_complexity: usize::MAX,
        ..Default::default()
    };
    let schema = fluxorae::schema::builder(&limits)
        .extension(async_graphql::extensions::Analyzer)
        .finish();
    let types = sdl_fields(&schema.sdl());

    // Every connection takes `first`.
    for field in types.values().flatten() {
        if field.returns.ends_with("Connection") {
            assert!(
                field.args.iter().any(|(name, _, _)| name == "first"),
                "{}.{} returns a connection without `first`",
                field.owner,
                field.name
            );
        }
    }
    let paged: BTreeSet<(String, String)> = types
        .values()
        .flatten()
        .filter(|field| field.args.iter().any(|(name, _, _)| name == "first"))
        .map(|field| (field.owner.clone(), field.name.clone()))
        .collect();

    // Walk from Query through single objects (never through a list or a
    // page, whose own multiplier would blur the measure), shortest path first.
    let mut visited = BTreeSet::new();
    let mut queue = std::collections::VecDeque::from([("Query".to_string(), Vec::<String>::new())]);
    let mut checked = BTreeSet::new();
    while let Some((owner, path)) = queue.pop_front() {
        if !visited.insert(owner.clone()) {
            continue;
        }
        for field in types.get(&owner).into_iter().flatten() {
            let mut args = Vec::new();
            let mut possible = true;
            for (name, scalar, required) in &field.args {
                if *required && name != "first" {
                    match placeholder(scalar) {
                        Some(literal) => args.push(format!("{name}: {literal}")),
                        None => possible = false,
                    }
                }
            }
            if !possible {
                continue;
            }
            let call = |extra: Option<String>| {
                let all: Vec<String> = args.iter().cloned().chain(extra).collect();
                if all.is_empty() {
                    field.name.clone()
                } else {
                    format!("{}({})", field.name, all.join(", "))
                }
            };
            if paged.contains(&(owner.clone(), field.name.clone())) {
                // One field per row: a connection's `nodes`, or a list item's
                // first scalar (`__typename` costs nothing).
                let items = types.get(&field.returns).expect("an object type");
                let selection = if items.iter().any(|f| f.name == "nodes") {
                    "{ nodes { __typename } }".to_string()
                } else {
                    let scalar = items
                        .iter()
                        .find(|f| f.args.is_empty() && !types.contains_key(&f.returns))
                        .expect("a scalar field");
                    format!("{{ {} }}", scalar.name)
                };
                // The outermost field is skipped: complexity is computed, nothing runs.
                let document = |first: Option<usize>| {
                    let mut steps = path.clone();
                    steps.push(call(first.map(|n| format!("first: {n}"))));
                    let mut inner = selection.clone();
                    for (depth, step) in steps.iter().enumerate().rev() {
                        let skip = if depth == 0 { " @skip(if: true)" } else { "" };
                        inner = format!("{{ {step}{skip} {inner} }}");
                    }
                    inner
                };
                let one = complexity_of(&schema, &document(Some(1))).await;
                let two = complexity_of(&schema, &document(Some(2))).await;
                let hundred = complexity_of(&schema, &document(Some(100))).await;
                let default = complexity_of(&schema, &document(None)).await;
                let twenty = complexity_of(
                    &schema,
                    &document(Some(kernel::pagination::DEFAULT_PAGE_SIZE)),
                )
                .await;
                let row = two.saturating_sub(one);
                let at = format!("{owner}.{} (via `{}`)", field.name, document(Some(1)));
                assert!(
                    row > 0,
                    "{at}: a second row costs nothing ({one} for 1 and 2)"
                );
                assert_eq!(
                    hundred - one,
                    99 * row,
                    "{at}: 100 rows do not cost 100 times one"
                );
                assert_eq!(
                    default, twenty,
                    "{at}: an omitted `first` is not the default page"
                );
                checked.insert((owner.clone(), field.name.clone()));
            } else if !field.list && !field.returns.starts_with("__") {
                let mut next = path.clone();
                next.push(call(None));
                queue.push_back((field.returns.clone(), next));
            }
        }
    }
    // Mutations and subscriptions are not walked: their results are the same types.
    let unchecked: Vec<_> = paged.difference(&checked).collect();
    assert!(
        unchecked.is_empty(),
        "paged fields the guard could not reach from Query through single objects: {unchecked:?}"
    );
}

/// Words that carry no meaning of their own in a description.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "its", "it", "this", "that", "id", "ids", "is", "are", "be", "for",
    "to", "in", "on", "at", "by", "with", "and", "or", "as", "e", "g",
];

/// Descriptions of fewer than three words that still say all there is to say.
const SHORT_BUT_COMPLETE: &[&str] = &[];

/// The fields async-graphql generates on every connection type of `ty`
/// (whose fields are `fields`): `XConnection`'s `pageInfo`, `edges` and
/// `nodes`, `XEdge`'s `node` and `cursor`, and all of `PageInfo`; empty for
/// any other type. Their descriptions come from the library, and a
/// connection's or edge's own description cannot be set per list (its name
/// type gives only the name); the fields a list adds (`totalCount`) are
/// checked like any other.
fn generated_by_connections(ty: &str, fields: &[&str]) -> &'static [&'static str] {
    let has = |wanted: &[&str]| wanted.iter().all(|field| fields.contains(field));
    if ty == "PageInfo" {
        &["hasPreviousPage", "hasNextPage", "startCursor", "endCursor"]
    } else if ty.ends_with("Connection") && has(&["pageInfo", "edges"]) {
        &["pageInfo", "edges", "nodes"]
    } else if ty.ends_with("Edge") && fields.len() == 2 && has(&["node", "cursor"]) {
        &["node", "cursor"]
    } else {
        &[]
    }
}

/// The lowercase words of a name: `ticketId` and `TICKET_ID` are `ticket`, `id`.
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            words.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    words.extend((!word.is_empty()).then_some(word));
    words
}

/// A word without a plural `s`, so that `tickets` restates `ticket`.
fn stem(word: &str) -> &str {
    match word.strip_suffix('s') {
        Some(stem) if stem.len() > 2 && !stem.ends_with('s') => stem,
        _ => word,
    }
}

/// Why `description` does not document the element at `coordinate`, whose
/// words are those of its type, field and argument names; `None` when it does.
fn undocumented(coordinate: &str, description: Option<&str>) -> Option<&'static str> {
    let Some(description) = description.map(str::trim).filter(|text| !text.is_empty()) else {
        return Some("no description");
    };
    let named: BTreeSet<String> = name_words(coordinate)
        .iter()
        .map(|word| stem(word).to_string())
        .collect();
    let words: Vec<String> = description
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    let meaningful: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|word| !STOPWORDS.contains(word))
        .map(stem)
        .collect();
    if meaningful.iter().all(|word| named.contains(*word)) {
        return Some("only repeats the name");
    }
    if words.len() < 3 && !SHORT_BUT_COMPLETE.contains(&coordinate) {
        return Some("under three words");
    }
    None
}

/// Every type, field, argument, input field and enum value of `sdl` with its
/// description, by schema coordinate (`Type`, `Type.field`,
/// `Type.field(arg:)`, `Enum.VALUE`); built-in directives are left out (the
/// SDL prints neither introspection types nor built-in scalars).
fn described_elements(sdl: &str) -> Vec<(String, Option<String>)> {
    use async_graphql::Positioned;
    use async_graphql::parser::types::{
        InputValueDefinition, InterfaceType, ObjectType, TypeKind, TypeSystemDefinition,
    };
    fn text(description: &Option<Positioned<String>>) -> Option<String> {
        description.as_ref().map(|text| text.node.clone())
    }
    let document = async_graphql::parser::parse_schema(sdl).expect("sdl parses");
    let mut elements = Vec::new();
    let inputs = |owner: &str, values: &[Positioned<InputValueDefinition>]| {
        values
            .iter()
            .map(|value| {
                (
                    format!("{owner}{}", value.node.name.node),
                    text(&value.node.description),
                )
            })
            .collect::<Vec<_>>()
    };
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        let generated = match &ty.kind {
            TypeKind::Object(object) => {
                let fields: Vec<&str> = object
                    .fields
                    .iter()
                    .map(|field| field.node.name.node.as_str())
                    .collect();
                generated_by_connections(&name, &fields)
            }
            _ => &[],
        };
        if generated.is_empty() {
            elements.push((name.clone(), text(&ty.description)));
        }
        match &ty.kind {
            TypeKind::Object(ObjectType { fields, .. })
            | TypeKind::Interface(InterfaceType { fields, .. }) => {
                for field in fields {
                    let field = &field.node;
                    if generated.contains(&field.name.node.as_str()) {
                        continue;
                    }
                    let at = format!("{name}.{}", field.name.node);
                    elements.push((at.clone(), text(&field.description)));
                    for (arg, description) in inputs(&format!("{at}("), &field.arguments) {
                        elements.push((format!("{arg}:)"), description));
                    }
                }
            }
            TypeKind::InputObject(input) => {
                elements.extend(inputs(&format!("{name}."), &input.fields));
            }
            TypeKind::Enum(values) => {
                for value in &values.values {
                    elements.push((
                        format!("{name}.{}", value.node.value.node),
                        text(&value.node.description),
                    ));
                }
            }
            TypeKind::Scalar | TypeKind::Union(_) => {}
        }
    }
    elements
}

#[test]
fn every_schema_element_has_a_description_that_says_more_than_its_name() {
    let offenders: Vec<String> = described_elements(&fluxorae::schema::sdl())
        .into_iter()
        .filter_map(|(coordinate, description)| {
            let reason = undocumented(&coordinate, description.as_deref())?;
            Some(format!(
                "- {coordinate}: {reason} ({:?})",
                description.unwrap_or_default()
            ))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "{} schema elements without a description that explains them (say what the value \
         means: units, time zone, format, what null means, who may see or call it, limits, \
         side effects; a description of under three words goes in SHORT_BUT_COMPLETE):\n{}",
        offenders.len(),
        offenders.join("\n")
    );
}

#[test]
fn the_description_guard_sees_missing_restated_and_terse_descriptions() {
    assert_eq!(
        name_words("AddTicketCommentInput.ticketId"),
        ["add", "ticket", "comment", "input", "ticket", "id"]
    );
    assert_eq!(
        name_words("TicketStatus.WAITING_ON_CLIENT"),
        ["ticket", "status", "waiting", "on", "client"]
    );
    assert_eq!(undocumented("Ticket.project", None), Some("no description"));
    assert_eq!(
        undocumented("AddTicketCommentInput.ticketId", Some("The ticket.")),
        Some("only repeats the name")
    );
    assert_eq!(
        undocumented("Project.tickets", Some("Tickets of this project.")),
        Some("only repeats the name")
    );
    assert_eq!(
        undocumented("Ticket.body", Some("Text.")),
        Some("under three words")
    );
    assert_eq!(
        undocumented(
            "Ticket.dueAt",
            Some("When the resolution target falls (UTC); null without an SLA policy.")
        ),
        None
    );
    assert_eq!(
        generated_by_connections(
            "TicketConnection",
            &["pageInfo", "edges", "nodes", "totalCount"]
        ),
        ["pageInfo", "edges", "nodes"]
    );
    assert!(generated_by_connections("KnowledgeEdge", &["node", "cursor", "weight"]).is_empty());
}
