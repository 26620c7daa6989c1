//! Production refuses the development defaults that leak one-time codes,
//! trust every local user or split state between instances: the binary stops
//! before serving, with an error that names the variable.

use std::process::Command;

use fluxorae_tests::fluxorae_binary;

/// A production environment that would start, with `changes` on top
/// (an empty value removes the variable).
fn serve_in_production(changes: &[(&str, &str)]) -> (bool, String) {
    let mut variables = vec![
        ("APP_ENV", "production"),
        ("JWT_KEYS", "k1:0123456789abcdef0123456789abcdef"),
        ("STORAGE_SIGNING_SECRET", "fedcba9876543210fedcba9876543210"),
        // Port 1 refuses: a configuration that passes stops at the database.
        ("DATABASE_URL", "postgres://fluxorae@127.0.0.1:1/fluxorae"),
        ("MAIL_URL", "smtp://127.0.0.1:1"),
        ("SMS_PROVIDER", "msg91"),
        ("MSG91_AUTH_KEY", "key"),
        ("MSG91_TEMPLATE_ID", "template"),
        ("ALLOWED_ORIGINS", "https://portal.example"),
        (
            "TOTP_ENCRYPTION_KEYS",
            "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        ("RUN_MIGRATIONS", "true"),
    ];
    variables.retain(|(name, _)| !changes.iter().any(|(changed, _)| changed == name));
    variables.extend(changes.iter().filter(|(_, value)| !value.is_empty()));
    let dir = std::env::temp_dir().join(format!("fluxorae-prod-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("working dir");
    let mut command = Command::new(fluxorae_binary());
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(&dir);
    for (name, _) in &variables {
        command.env_remove(name);
    }
    for name in [
        "SMS_PROVIDER",
        "MAIL_URL",
        "DATABASE_URL",
        "EVENT_BUS",
        "STORAGE_BACKEND",
    ] {
        command.env_remove(name);
    }
    command.envs(variables.iter().copied());
    let output = command.output().expect("run fluxorae serve");
    let _ = std::fs::remove_dir_all(&dir);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn production_refuses_to_start_with_sms_or_mail_to_the_log_no_database_url_or_origins() {
    let (_, baseline) = serve_in_production(&[]);
    assert!(
        baseline.contains("connecting to the database"),
        "the complete configuration passes and stops at the database: {baseline}"
    );
    for (changes, variable) in [
        (&[("SMS_PROVIDER", "log")][..], "SMS_PROVIDER"),
        (&[("MAIL_URL", "log")][..], "MAIL_URL"),
        (&[("DATABASE_URL", "")][..], "DATABASE_URL"),
        (&[("ALLOWED_ORIGINS", "")][..], "ALLOWED_ORIGINS"),
        (
            &[("EVENT_BUS", "postgres"), ("STORAGE_BACKEND", "local")][..],
            "STORAGE_BACKEND",
        ),
    ] {
        let (started, stderr) = serve_in_production(changes);
        assert!(!started, "{changes:?}");
        assert!(
            stderr.contains(&format!("environment variable {variable}")),
            "{changes:?}: {stderr}"
        );
        assert!(!stderr.contains("connecting to the database"), "{stderr}");
    }
}
