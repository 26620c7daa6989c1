//! Table ownership, read from ARCHITECTURE.md's table-owners block: a crate's
//! code names only the tables it owns, and a migration changes the structure
//! only of its own domain's tables (or of tables it creates itself).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `crate -> tables` from the table-owners block.
fn declared_owners() -> BTreeMap<String, BTreeSet<String>> {
    let text =
        std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = text
        .find("<!-- table-owners -->")
        .expect("table-owners marker");
    let end = text
        .find("<!-- /table-owners -->")
        .expect("table-owners end marker");
    text[start..end]
        .lines()
        .filter_map(|line| {
            let (owner, tables) = line.split_once(':')?;
            let tables = tables
                .split(',')
                .map(|table| table.trim().to_string())
                .filter(|table| !table.is_empty())
                .collect();
            Some((owner.trim().to_string(), tables))
        })
        .collect()
}

/// `table -> owning crate`.
fn owner_of_each_table() -> BTreeMap<String, String> {
    let mut owners = BTreeMap::new();
    for (owner, tables) in declared_owners() {
        for table in tables {
            if let Some(previous) = owners.insert(table.clone(), owner.clone()) {
                panic!("{table} is owned by both {previous} and {owner}");
            }
        }
    }
    owners
}

/// Tables the generated diesel schema defines.
fn schema_tables() -> BTreeSet<String> {
    let schema = std::fs::read_to_string(repo_root().join("domains/kernel/src/schema.rs"))
        .expect("kernel schema.rs");
    let mut tables = BTreeSet::new();
    let mut lines = schema.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "diesel::table! {" {
            // Attributes (`use`, `#[sql_name]`) may come before the name line.
            for next in lines.by_ref() {
                let next = next.trim();
                if next.starts_with("use ") || next.starts_with('#') || next.is_empty() {
                    continue;
                }
                if let Some((name, _)) = next.split_once(" (") {
                    tables.insert(name.trim().to_string());
                }
                break;
            }
        }
    }
    tables
}

#[test]
fn every_table_has_exactly_one_owner() {
    let owned: BTreeSet<String> = owner_of_each_table().into_keys().collect();
    let defined = schema_tables();
    assert!(!defined.is_empty(), "no tables found in schema.rs");
    let unowned: Vec<_> = defined.difference(&owned).collect();
    let unknown: Vec<_> = owned.difference(&defined).collect();
    assert!(
        unowned.is_empty() && unknown.is_empty(),
        "tables without an owner in ARCHITECTURE.md: {unowned:?}; owners listed for tables \
         that do not exist: {unknown:?}"
    );
}

/// The package name in a crate's Cargo.toml.
fn package_name(crate_dir: &Path) -> String {
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("Cargo.toml");
    manifest
        .lines()
        .find_map(|line| {
            let value = line.trim().strip_prefix("name")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
        .expect("package name")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// Code without its unit tests: they may build rows of any table.
fn production_code(path: &Path) -> Option<String> {
    if path.file_name().is_some_and(|name| name == "tests.rs")
        || path.ends_with("kernel/src/schema.rs")
    {
        return None;
    }
    let text = std::fs::read_to_string(path).expect("read source");
    Some(match text.find("#[cfg(test)]") {
        Some(start) => text[..start].to_string(),
        None => text,
    })
}

fn is_identifier(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Tables a source text names: diesel paths through `kernel::schema` (or
/// `crate::schema` inside the kernel) and table names after SQL keywords.
fn named_tables(code: &str, tables: &BTreeSet<String>) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for prefix in ["kernel::schema::", "crate::schema::"] {
        for (at, _) in code.match_indices(prefix) {
            let rest = &code[at + prefix.len()..];
            let imported = match rest.strip_prefix('{') {
                Some(group) => &group[..group.find('}').unwrap_or(group.len())],
                None => &rest[..rest.find(|c: char| !is_identifier(c)).unwrap_or(rest.len())],
            };
            for name in imported.split(',') {
                let name = name.trim().split("::").next().unwrap_or_default().trim();
                if name == "*" {
                    named.extend(tables.iter().cloned());
                } else if tables.contains(name) {
                    named.insert(name.to_string());
                }
            }
        }
    }
    for keyword in ["FROM", "JOIN", "UPDATE", "INTO"] {
        for (at, _) in code.match_indices(keyword) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(is_identifier) {
                continue;
            }
            let rest = &code[at + keyword.len()..];
            if !rest.starts_with(char::is_whitespace) {
                continue;
            }
            let rest = rest.trim_start();
            let word = &rest[..rest.find(|c: char| !is_identifier(c)).unwrap_or(rest.len())];
            if tables.contains(word) {
                named.insert(word.to_string());
            }
        }
    }
    named
}

#[test]
fn crates_name_only_the_tables_they_own() {
    let owners = owner_of_each_table();
    let tables: BTreeSet<String> = owners.keys().cloned().collect();
    let root = repo_root();
    let mut crate_dirs = vec![root.join("api")];
    for entry in std::fs::read_dir(root.join("domains"))
        .expect("domains")
        .flatten()
    {
        if entry.path().join("Cargo.toml").is_file() {
            crate_dirs.push(entry.path());
        }
    }
    let mut trespasses = Vec::new();
    for dir in crate_dirs {
        let name = package_name(&dir);
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        files.sort();
        for file in files {
            let Some(code) = production_code(&file) else {
                continue;
            };
            for table in named_tables(&code, &tables) {
                if owners[&table] != name {
                    trespasses.push(format!(
                        "{} ({name}) names {table}, owned by {}",
                        file.strip_prefix(&root).unwrap_or(&file).display(),
                        owners[&table]
                    ));
                }
            }
        }
    }
    assert!(
        trespasses.is_empty(),
        "code that names another crate's tables (call the owner's repo functions instead):\n{}",
        trespasses.join("\n")
    );
}

/// Tables whose structure a SQL script changes, and those it creates.
fn structural_changes(sql: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let words: Vec<String> = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .flat_map(|line| {
            line.split(|c: char| !is_identifier(c))
                .filter(|word| !word.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let upper: Vec<String> = words.iter().map(|word| word.to_uppercase()).collect();
    let table_after = |mut at: usize| {
        while at < words.len() && ["IF", "EXISTS", "NOT", "ONLY"].contains(&upper[at].as_str()) {
            at += 1;
        }
        words.get(at).cloned()
    };
    let mut changed = BTreeSet::new();
    let mut created = BTreeSet::new();
    for at in 0..words.len() {
        let next_is_table = upper.get(at + 1).is_some_and(|word| word == "TABLE");
        match upper[at].as_str() {
            "ALTER" | "DROP" if next_is_table => changed.extend(table_after(at + 2)),
            "TRUNCATE" => changed.extend(table_after(at + 1 + usize::from(next_is_table))),
            "CREATE" if next_is_table => created.extend(table_after(at + 2)),
            // CREATE [UNIQUE] INDEX .. ON t and CREATE TRIGGER .. ON t change t.
            "ON" => {
                let statement = upper[..at].iter().rposition(|word| word == "CREATE");
                if statement.is_some_and(|start| {
                    upper[start..at]
                        .iter()
                        .any(|word| word == "INDEX" || word == "TRIGGER")
                }) {
                    changed.extend(table_after(at + 1));
                }
            }
            _ => {}
        }
    }
    (changed, created)
}

#[test]
fn migrations_change_only_the_structure_of_their_own_domains_tables() {
    let owners = owner_of_each_table();
    let mut trespasses = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(repo_root().join("migrations"))
        .expect("migrations")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("up.sql").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no migrations found");
    for dir in dirs {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        // <timestamp>_<domain>_<change>
        let domain = name.split('_').nth(1).unwrap_or_default();
        let crate_name = format!("fluxorae-{domain}");
        let up = std::fs::read_to_string(dir.join("up.sql")).expect("up.sql");
        let down = std::fs::read_to_string(dir.join("down.sql")).unwrap_or_default();
        let (_, created) = structural_changes(&up);
        for script in [&up, &down] {
            let (changed, _) = structural_changes(script);
            for table in changed {
                let owner = owners.get(&table).map(String::as_str);
                if owner.is_some_and(|owner| owner != crate_name) && !created.contains(&table) {
                    trespasses.push(format!(
                        "{name} changes {table}, owned by {}",
                        owner.unwrap_or_default()
                    ));
                }
            }
        }
    }
    assert!(
        trespasses.is_empty(),
        "migrations that change another domain's tables:\n{}",
        trespasses.join("\n")
    );
}

#[test]
fn the_structure_scanner_sees_alters_drops_and_indexes_but_not_inserts() {
    let (changed, created) = structural_changes(
        "CREATE TABLE IF NOT EXISTS a (id int);\n\
         ALTER TABLE ONLY b ADD COLUMN c int; -- ALTER TABLE ignored\n\
         DROP TABLE IF EXISTS d;\n\
         CREATE UNIQUE INDEX e_idx ON e (x);\n\
         INSERT INTO f VALUES (1);\n\
         ALTER INDEX g_idx RENAME TO h_idx;",
    );
    let names = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>();
    assert_eq!(names(&changed), ["b", "d", "e"]);
    assert_eq!(names(&created), ["a"]);
}

#[test]
fn the_code_scanner_sees_schema_imports_and_sql_text() {
    let tables: BTreeSet<String> = ["tickets", "files", "users", "tasks"]
        .into_iter()
        .map(String::from)
        .collect();
    let named = named_tables(
        "use kernel::schema::{files, tasks::dsl};\n\
         let q = sql_query(\"SELECT 1 FROM tickets t JOIN users u ON true\");\n\
         // rows come from the caller\n",
        &tables,
    );
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        ["files", "tasks", "tickets", "users"]
    );
}
