//! Argon2id password hashing (OWASP parameters: 19 MiB, 2 passes, 1 lane,
//! which are the `argon2` crate's defaults), run on the blocking pool behind a
//! semaphore: each hash holds 19 MiB and login is unauthenticated, so the
//! bound is what keeps a login flood from exhausting memory.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use smez_kit::Error;
use tokio::sync::Semaphore;

pub struct Passwords {
    slots: Arc<Semaphore>,
    /// Verified against when the email is unknown, so the answer takes as
    /// long as for a known one and does not reveal which accounts exist.
    dummy_hash: String,
}

impl Passwords {
    pub async fn new(concurrency: usize) -> anyhow::Result<Self> {
        let dummy_hash = tokio::task::spawn_blocking(|| hash_now(b"not a real password, only for timing"))
            .await?
            .map_err(|e| anyhow::anyhow!("argon2 does not work here: {e}"))?;
        Ok(Self {
            slots: Arc::new(Semaphore::new(concurrency)),
            dummy_hash,
        })
    }

    /// The PHC string of `password` with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, Error> {
        let password = zeroize::Zeroizing::new(password.as_bytes().to_vec());
        self.run(move || hash_now(&password)).await?.map_err(Error::internal)
    }

    /// Whether `password` matches `phc` (or, with `None`, spends the same time and says no).
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, Error> {
        let known = phc.is_some();
        let phc = phc.unwrap_or(&self.dummy_hash).to_owned();
        let password = zeroize::Zeroizing::new(password.as_bytes().to_vec());
        let matches = self
            .run(move || {
                PasswordHash::new(&phc)
                    .map(|parsed| Argon2::default().verify_password(&password, &parsed).is_ok())
                    .unwrap_or(false)
            })
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let _slot = self.slots.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(Error::internal)
    }
}

fn hash_now(password: &[u8]) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default().hash_password(password)?.to_string())
}
