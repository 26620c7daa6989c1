//! Password hashing (Argon2id, off the async workers) and the strength rules
//! (length bounds, not built from the email or name, a zxcvbn score of 3 or more).

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
/// the blocking pool. The queue in front of them is bounded: a flood of
/// checks beyond it is refused with `RATE_LIMITED` at once, instead of
/// making every later login wait behind it.
#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    jobs: mpsc::SyncSender<HashJob>,
    // Verified against when the account does not exist, so that unknown and
    // known emails take the same time.
    dummy_hash: Arc<OnceLock<String>>,
}

impl PasswordHasherPool {
    /// A pool for the given cost, where at most `queue_limit` jobs wait.
    pub fn new(cost: PasswordHashing, queue_limit: usize) -> Result<Self, AppError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|error| AppError::internal(error.to_string()))?;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = cpus.saturating_sub(1).max(1);
        let (jobs, queue) = mpsc::sync_channel::<HashJob>(queue_limit.max(1));
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
            .try_send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|error| match error {
                mpsc::TrySendError::Full(_) => AppError::rate_limited(1),
                mpsc::TrySendError::Disconnected(_) => {
                    AppError::internal("password hashing threads stopped")
                }
            })?;
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

/// Shortest password accepted.
pub const MIN_PASSWORD_LENGTH: usize = 10;
/// Longest password accepted (Argon2 cost grows with input).
pub const MAX_PASSWORD_LENGTH: usize = 128;
/// Lowest zxcvbn score accepted: 3 is "safely unguessable" (about 10^10 guesses).
pub const MIN_STRENGTH_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Checks a new password; the error says what to change. `personal` holds the
/// user's email and name, which a password must not be built from: they are
/// also zxcvbn's user inputs, so words from them count as guessed.
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
    for item in personal {
        let item = item.trim().to_lowercase();
        let local = item.split('@').next().unwrap_or_default();
        if local.chars().count() >= 4 && lowered.contains(local) {
            return Err("Do not build the password from your email or name".into());
        }
    }
    let inputs = user_inputs(personal);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if estimate.score() >= MIN_STRENGTH_SCORE {
        return Ok(());
    }
    let mut message = String::from("This password is easy to guess");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            message = format!("{message}: {warning}");
        }
        for suggestion in feedback.suggestions() {
            message = format!("{message}. {suggestion}");
        }
    }
    Err(message)
}

/// The email, its local part and the name with its words, lower-cased: what a
/// guesser who knows the account tries first.
fn user_inputs(personal: &[&str]) -> Vec<String> {
    let mut inputs = Vec::new();
    for item in personal {
        let item = item.trim().to_lowercase();
        if let Some((local, _)) = item.split_once('@') {
            inputs.push(local.to_string());
        }
        inputs.extend(
            item.split(|c: char| !c.is_alphanumeric())
                .filter(|word| word.chars().count() >= 4)
                .map(str::to_string),
        );
        inputs.push(item);
    }
    inputs.sort();
    inputs.dedup();
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        let weak: &[(&str, &[&str])] = &[
            ("short", &[]),
            ("password123", &[]),
            ("Password123", &[]),
            ("password1", &[]),
            ("qwerty123", &[]),
            ("aaaaaaaaaaaa", &[]),
            ("1234567890123", &[]),
            ("qwertyuiopasdf", &[]),
            ("ravi.kumar2026!", &["ravi.kumar@example.in"]),
            (
                "ArjunMehta loves chai",
                &["arjunmehta@chai-point.test", "Arjun Mehta"],
            ),
            ("Welcome@2026", &[]),
            ("iloveyou123!", &[]),
        ];
        for (password, personal) in weak {
            let reason = check_strength(password, personal)
                .expect_err(&format!("{password:?} was accepted"));
            assert!(!reason.is_empty());
        }
    }

    #[test]
    fn the_passwords_of_tests_demo_and_bench_pass() {
        let personas: &[&str] = &["employee-0a1b2c3d@example.test"];
        for password in [
            // tests
            "Harbour Lights 5521",
            "Copper kettle by the monsoon window",
            "Saffron lanterns over Kochi 88",
            "Monsoon tea on the terrace",
            "Wrong Password 4242",
            "Lantern Quay 8817",
            "Tamarind Ledger 3391",
            // demo
            "Saffron Kite 4417",
            "Monsoon Lantern 2281",
            "Cobalt Harbour 7734",
            "Mango Orchard 5102",
            "Teak Window 8120",
            "Velvet Compass 6650",
            "Granite Ferry 3398",
            // bench and README
            "Bench Board 7731 Kestrel",
            "Quiet River 9981",
            // passphrases and random strings
            "monsoon tea on the terrace",
            "Gx7!pQ2#vL9z",
        ] {
            assert_eq!(check_strength(password, personas), Ok(()), "{password:?}");
        }
    }

    /// A pool with the cheapest hashing, for speed, queueing `queue_limit` jobs.
    fn cheap_pool(queue_limit: usize) -> PasswordHasherPool {
        PasswordHasherPool::new(
            PasswordHashing {
                memory_kib: 1024,
                iterations: 1,
                parallelism: 1,
            },
            queue_limit,
        )
        .expect("pool")
    }

    #[tokio::test]
    async fn a_full_queue_refuses_more_work_with_rate_limited() {
        let pool = cheap_pool(1);
        let (release, held) = mpsc::channel::<()>();
        let held = Arc::new(Mutex::new(held));
        // Jobs that block until released take every thread, then the one slot.
        let mut refused = None;
        for _ in 0..64 {
            let held = held.clone();
            let job = pool.run(move || {
                if let Ok(held) = held.lock() {
                    let _ = held.recv();
                }
            });
            match tokio::time::timeout(std::time::Duration::from_millis(50), job).await {
                Ok(Err(error)) => {
                    refused = Some(error);
                    break;
                }
                Ok(Ok(())) => panic!("a blocked job finished"),
                Err(_) => {}
            }
        }
        for _ in 0..64 {
            let _ = release.send(());
        }
        let refused = refused.expect("the queue never filled");
        assert_eq!(refused.code(), kernel::ErrorCode::RateLimited);
        assert_eq!(refused.retry_after_seconds(), Some(1));
    }

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let pool = cheap_pool(4);
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
