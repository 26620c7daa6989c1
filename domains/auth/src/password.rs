//! Password hashing (Argon2id, off the async workers) and the strength rules.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use kernel::AppError;
use tokio::sync::oneshot;

use crate::config::PasswordHashing;

type HashJob = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords on a few dedicated threads, so that a burst
/// of logins neither blocks the async workers nor takes every core: with N
/// cores, N - 1 threads hash (at least one), and the rest serve other
/// requests. Dedicated threads also bound memory: each reuses its own Argon2
/// working memory instead of leaving a freed 19 MiB block in every thread of
/// the blocking pool.
#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    jobs: mpsc::Sender<HashJob>,
    // Verified against when the account does not exist, so that unknown and
    // known emails take the same time.
    dummy_hash: Arc<OnceLock<String>>,
}

impl PasswordHasherPool {
    /// A pool for the given cost.
    pub fn new(cost: PasswordHashing) -> Result<Self, AppError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|error| AppError::internal(error.to_string()))?;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = cpus.saturating_sub(1).max(1);
        let (jobs, queue) = mpsc::channel::<HashJob>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..workers {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{index}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(AppError::internal)?;
        }
        Ok(Self {
            params,
            jobs,
            dummy_hash: Arc::new(OnceLock::new()),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|_| AppError::internal("password hashing threads stopped"))?;
        answer
            .await
            .map_err(|_| AppError::internal("password hashing failed"))
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let params = self.params.clone();
        let password = password.to_string();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Self::argon2(params)
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| AppError::internal(error.to_string()))
        })
        .await?
    }

    /// Whether `password` matches `hash`; `None` verifies against a dummy hash
    /// and answers false, taking as long as a real check.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, AppError> {
        let is_dummy = hash.is_none();
        let hash = match hash {
            Some(hash) => hash.to_string(),
            None => self.dummy().await?,
        };
        let params = self.params.clone();
        let password = password.to_string();
        let matched = self
            .run(move || {
                let Ok(parsed) = PasswordHash::new(&hash) else {
                    return false;
                };
                Self::argon2(params)
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .await?;
        Ok(matched && !is_dummy)
    }

    async fn dummy(&self) -> Result<String, AppError> {
        if let Some(hash) = self.dummy_hash.get() {
            return Ok(hash.clone());
        }
        let hash = self.hash("dummy password that no account has").await?;
        let _ = self.dummy_hash.set(hash.clone());
        Ok(hash)
    }
}

/// The most common passwords in breach corpora, lower-cased.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "12345678910",
    "0123456789",
    "qwerty",
    "qwerty123",
    "qwertyuiop",
    "qwerty12345",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "zaq12wsx",
    "abc123",
    "abcd1234",
    "abcdef123",
    "iloveyou",
    "iloveyou1",
    "admin",
    "admin123",
    "admin@123",
    "administrator",
    "welcome",
    "welcome1",
    "welcome123",
    "welcome@123",
    "letmein",
    "letmein123",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "cricket",
    "cricket123",
    "sunshine",
    "princess",
    "starwars",
    "master",
    "superman",
    "batman",
    "trustno1",
    "whatever",
    "freedom",
    "shadow",
    "michael",
    "jennifer",
    "charlie",
    "computer",
    "internet",
    "secret",
    "secret123",
    "changeme",
    "changeme123",
    "default",
    "india123",
    "india@123",
    "bharat123",
    "krishna",
    "krishna123",
    "ganesh123",
    "om namah shivaya",
    "jaihind",
    "mumbai123",
    "delhi123",
    "bangalore",
    "hyderabad",
    "chennai123",
    "kolkata123",
    "pune12345",
    "test1234",
    "test12345",
    "testtest",
    "guest",
    "guest123",
    "login123",
    "user1234",
    "asdfghjkl",
    "asdf1234",
    "zxcvbnm",
    "zxcvbnm123",
    "111111",
    "1111111111",
    "000000",
    "0000000000",
    "121212",
    "123123",
    "123123123",
    "654321",
    "987654321",
    "9876543210",
    "666666",
    "696969",
    "777777",
    "888888",
    "aaaaaa",
    "qazwsx",
    "passpass",
    "fluxorae",
    "fluxorae123",
    "company123",
    "agency123",
    "summer2026",
    "winter2026",
    "spring2026",
];

/// Shortest password accepted.
pub const MIN_PASSWORD_LENGTH: usize = 10;
/// Longest password accepted (Argon2 cost grows with input).
pub const MAX_PASSWORD_LENGTH: usize = 128;

/// Checks a new password; the error says what to change. `personal` holds the
/// user's email and name, which a password must not be built from.
pub fn check_strength(password: &str, personal: &[&str]) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LENGTH {
        return Err(format!(
            "Use at least {MIN_PASSWORD_LENGTH} characters; a short phrase is easiest to remember"
        ));
    }
    if length > MAX_PASSWORD_LENGTH {
        return Err(format!("Use at most {MAX_PASSWORD_LENGTH} characters"));
    }
    let lowered = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lowered.as_str()) {
        return Err("This password is among the most common ones; choose another".into());
    }
    let distinct: std::collections::BTreeSet<char> = lowered.chars().collect();
    if distinct.len() < 4 {
        return Err("Use more different characters".into());
    }
    if is_sequence(&lowered) {
        return Err("Keyboard or number sequences are easy to guess; choose another".into());
    }
    for item in personal {
        let item = item.trim().to_lowercase();
        let local = item.split('@').next().unwrap_or_default();
        if local.chars().count() >= 4 && lowered.contains(local) {
            return Err("Do not build the password from your email or name".into());
        }
    }
    Ok(())
}

fn is_sequence(password: &str) -> bool {
    const RUNS: [&str; 4] = [
        "01234567890123456789",
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
        "qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
        "98765432109876543210",
    ];
    RUNS.iter().any(|run| run.contains(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(check_strength("short", &[]).is_err());
        assert!(check_strength("password123", &[]).is_err());
        assert!(check_strength("Password123", &[]).is_err());
        assert!(check_strength("aaaaaaaaaaaa", &[]).is_err());
        assert!(check_strength("1234567890123", &[]).is_err());
        assert!(check_strength("ravi.kumar2026!", &["ravi.kumar@example.in"]).is_err());
    }

    #[test]
    fn reasonable_passphrases_pass() {
        assert!(check_strength("monsoon tea on the terrace", &["ravi@example.in"]).is_ok());
        assert!(check_strength("Gx7!pQ2#vL9z", &[]).is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let pool = PasswordHasherPool::new(PasswordHashing {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .expect("pool");
        let hash = pool.hash("correct horse battery").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            pool.verify("correct horse battery", Some(&hash))
                .await
                .expect("verify")
        );
        assert!(
            !pool
                .verify("wrong horse battery", Some(&hash))
                .await
                .expect("verify")
        );
        assert!(
            !pool
                .verify("correct horse battery", None)
                .await
                .expect("verify")
        );
    }
}
