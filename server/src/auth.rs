//! Who is calling: argon2id password hashes, HS256 login tokens carrying a
//! per-account token version, invitation tokens for parties, and the signing
//! secret kept in the data directory. Refusals are typed (`AuthError`,
//! `InvitationRefusal`); the edges turn them into statuses and close codes.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cases::changes::Actor;
use crate::cases::{Invitation, Participant, Session, SessionState};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;
use crate::tree::Account;

/// The audience of staff login tokens; other token kinds use their own, so
/// one can never stand in for another.
const STAFF_AUDIENCE: &str = "mediation-staff";
/// The audience of invitation tokens for parties without an account.
const INVITATION_AUDIENCE: &str = "mediation-invitation";

/// Password work (argon2id, about 19 MiB and tens of milliseconds each) runs
/// on a few threads of its own, one per core: concurrent logins queue for
/// them instead of each taking a blocking thread and its memory, so memory
/// stays flat however many arrive at once.
mod password_work {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, OnceLock, mpsc};
    use std::time::Duration;

    use tokio::sync::oneshot;

    /// How long a password check may wait for a free thread before the
    /// caller is told the server is busy.
    const MAX_WAIT: Duration = Duration::from_secs(5);

    type Job = Box<dyn FnOnce() + Send>;

    struct Workers {
        jobs: mpsc::Sender<Job>,
        /// One permit per thread: a job is queued only once it has one.
        permits: tokio::sync::Semaphore,
        threads: usize,
    }

    /// Jobs running now, and the most ever running at once (for tests and /metrics).
    pub static RUNNING: AtomicUsize = AtomicUsize::new(0);
    pub static PEAK: AtomicUsize = AtomicUsize::new(0);

    fn workers() -> &'static Workers {
        static WORKERS: OnceLock<Workers> = OnceLock::new();
        WORKERS.get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(2, usize::from);
            let (jobs, queue) = mpsc::channel::<Job>();
            // Held only to take the next job; never across running it.
            let queue = std::sync::Arc::new(Mutex::new(queue));
            for index in 0..threads {
                let queue = queue.clone();
                std::thread::Builder::new()
                    .name(format!("password-{index}"))
                    .spawn(move || {
                        loop {
                            let job = queue.lock().expect("password queue lock poisoned").recv();
                            match job {
                                Ok(job) => job(),
                                Err(_) => break,
                            }
                        }
                    })
                    .expect("a password thread");
            }
            Workers { jobs, permits: tokio::sync::Semaphore::new(threads), threads }
        })
    }

    /// The number of password threads.
    pub fn threads() -> usize {
        workers().threads
    }

    /// Every password thread was busy for the whole wait.
    #[derive(Debug, thiserror::Error)]
    #[error("the server is busy checking passwords; try again in a moment")]
    pub struct Busy;

    /// Runs `work` on a password thread, waiting up to `MAX_WAIT` for one.
    pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let workers = workers();
        let _permit =
            tokio::time::timeout(MAX_WAIT, workers.permits.acquire()).await.map_err(|_| Busy)?.map_err(|_| Busy)?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let running = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            PEAK.fetch_max(running, Ordering::SeqCst);
            let value = work();
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            let _ = done.send(value);
        });
        workers.jobs.send(job).map_err(|_| Busy)?;
        result.await.map_err(|_| Busy)
    }
}

pub use password_work::Busy as PasswordBusy;

/// The most password checks ever running at once, and the threads for them.
pub fn password_work_peak() -> (usize, usize) {
    (password_work::PEAK.load(std::sync::atomic::Ordering::SeqCst), password_work::threads())
}

/// Hashes a password with argon2id on a password thread.
pub async fn hash_password(password: String) -> Result<String, PasswordBusy> {
    password_work::run(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2id with its default parameters hashes any password")
            .to_string()
    })
    .await
}

/// Checks a password against a stored hash on a password thread. Also used
/// against a dummy hash for unknown usernames, so that both cost the same.
pub async fn verify_password(password: String, hash: String) -> Result<bool, PasswordBusy> {
    password_work::run(move || {
        PasswordHash::new(&hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
}

/// A password for a new account or a reset: 14 characters from an alphabet
/// without look-alikes, so a helper can read it out over the phone.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..14).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// Reads a secret from `env_var`, or from `<data_dir>/<file_name>`, or
/// creates that file with 32 random bytes and mode 0600.
pub fn load_or_create_secret(data_dir: &Path, file_name: &str, env_var: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = read_secret(data_dir, file_name, env_var)? {
        return Ok(secret);
    }
    let path = data_dir.join(file_name);
    let mut secret = vec![0u8; 32];
    rand::thread_rng().fill(&mut secret[..]);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&secret)?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret");
    Ok(secret)
}

/// The secret from `env_var`, or from `file_name` in the data directory;
/// `None` when neither is there (nothing is created).
pub fn read_secret(data_dir: &Path, file_name: &str, env_var: &str) -> anyhow::Result<Option<Vec<u8>>> {
    if let Ok(value) = std::env::var(env_var) {
        anyhow::ensure!(value.len() >= 32, "{env_var} must be at least 32 characters long");
        return Ok(Some(value.into_bytes()));
    }
    let path = data_dir.join(file_name);
    match std::fs::read(&path) {
        Ok(bytes) => {
            anyhow::ensure!(bytes.len() == 32, "{} is damaged: expected 32 bytes", path.display());
            Ok(Some(bytes))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StaffClaims {
    sub: Uuid,
    /// The account's token version when the token was issued.
    ver: i32,
    aud: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct InvitationClaims {
    /// The invitation id.
    sub: Uuid,
    /// The session it admits to.
    sid: Uuid,
    /// The session participant it stands for.
    pid: Uuid,
    aud: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// What an invitation token says, once its signature and window check out.
#[derive(Debug, Clone, Copy)]
pub struct InvitationGrant {
    pub invitation_id: Uuid,
    pub session_id: Uuid,
    pub participant_id: Uuid,
}

/// Why an invitation link does not admit, in words a party understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationRefusal {
    NotYetValid,
    Expired,
    Invalid,
    Revoked,
    SessionClosed,
}

impl InvitationRefusal {
    pub fn message(self) -> &'static str {
        match self {
            InvitationRefusal::NotYetValid => "this invitation opens 30 minutes before the session starts",
            InvitationRefusal::Expired => "this invitation has expired",
            InvitationRefusal::Invalid => "this invitation link is not valid",
            InvitationRefusal::Revoked => "this invitation was withdrawn; ask the mediator for a new link",
            InvitationRefusal::SessionClosed => "this mediation session has ended or was cancelled",
        }
    }
}

/// Why a staff token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Invalid, expired, revoked, or its account may no longer sign in.
    #[error("the token is invalid, expired or revoked")]
    Refused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an invitation token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error("{}", .0.message())]
    Refused(InvitationRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Signs and checks staff login tokens and invitation tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: chrono::Duration,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: chrono::Duration) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), ttl }
    }

    /// Issues a token for `account`, valid for the configured time.
    pub fn issue(&self, account: &Account) -> anyhow::Result<(String, Timestamp)> {
        let now = Timestamp::now();
        let expires_at = Timestamp::from(now.as_datetime() + self.ttl);
        let claims = StaffClaims {
            sub: account.id,
            ver: account.token_version,
            aud: STAFF_AUDIENCE.into(),
            iat: now.unix_seconds(),
            exp: expires_at.unix_seconds(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// The invitation token for `invitation`. Signing is deterministic, so
    /// the same link can be shown again without storing the token.
    pub fn invitation_token(&self, invitation: &Invitation) -> anyhow::Result<String> {
        let claims = InvitationClaims {
            sub: invitation.id,
            sid: invitation.session_id,
            pid: invitation.participant_id,
            aud: INVITATION_AUDIENCE.into(),
            iat: invitation.created_at.unix_seconds(),
            nbf: invitation.valid_from.unix_seconds(),
            exp: invitation.valid_until.unix_seconds(),
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// Checks an invitation token's signature, audience and time window.
    /// Revocation is checked against the store by the caller.
    pub fn verify_invitation(&self, token: &str) -> Result<InvitationGrant, InvitationRefusal> {
        use jsonwebtoken::errors::ErrorKind;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_audience(&[INVITATION_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "sub", "aud"]);
        match jsonwebtoken::decode::<InvitationClaims>(token, &self.decoding, &validation) {
            Ok(data) => Ok(InvitationGrant {
                invitation_id: data.claims.sub,
                session_id: data.claims.sid,
                participant_id: data.claims.pid,
            }),
            Err(error) => Err(match error.kind() {
                ErrorKind::ImmatureSignature => InvitationRefusal::NotYetValid,
                ErrorKind::ExpiredSignature => InvitationRefusal::Expired,
                _ => InvitationRefusal::Invalid,
            }),
        }
    }

    /// The account id and token version in a valid, unexpired HS256 token.
    fn verify(&self, token: &str) -> Option<(Uuid, i32)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_audience(&[STAFF_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        jsonwebtoken::decode::<StaffClaims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| (data.claims.sub, data.claims.ver))
    }

    /// Resolves a token to a live account: signature, expiry, audience, the
    /// account still active and the token version still current.
    pub async fn authenticate(&self, store: &dyn Store, token: &str) -> Result<Account, AuthError> {
        let (id, version) = self.verify(token).ok_or(AuthError::Refused)?;
        let account = store.account(id).await?.ok_or(AuthError::Refused)?;
        if !account.may_sign_in() || account.token_version != version {
            return Err(AuthError::Refused);
        }
        Ok(account)
    }
}

/// A party admitted by a valid, unrevoked invitation to a session that is
/// still planned or live.
#[derive(Debug, Clone)]
pub struct InvitedParty {
    pub invitation: Invitation,
    pub session: Session,
    pub participant: Participant,
}

impl InvitedParty {
    pub fn actor(&self, client_addr: Option<String>) -> Actor {
        Actor::invited(&self.participant, client_addr)
    }
}

/// Resolves an invitation token: signature, window, revocation and the
/// session's state, each refused with its own reason.
pub async fn authenticate_invitation(
    store: &dyn Store,
    tokens: &TokenKeys,
    token: &str,
) -> Result<InvitedParty, InvitationError> {
    let refused = |refusal| Err(InvitationError::Refused(refusal));
    let grant = tokens.verify_invitation(token).map_err(InvitationError::Refused)?;
    let invitation = match store.invitation(grant.invitation_id).await? {
        Some(found) if found.session_id == grant.session_id && found.participant_id == grant.participant_id => found,
        _ => return refused(InvitationRefusal::Invalid),
    };
    if invitation.revoked_at.is_some() {
        return refused(InvitationRefusal::Revoked);
    }
    let Some(session) = store.session(invitation.session_id).await? else {
        return refused(InvitationRefusal::Invalid);
    };
    if matches!(session.state, SessionState::Cancelled | SessionState::Ended) {
        return refused(InvitationRefusal::SessionClosed);
    }
    let participant = store.participants(session.id).await?.into_iter().find(|p| p.id == invitation.participant_id);
    let Some(participant) = participant else {
        return refused(InvitationRefusal::Invalid);
    };
    Ok(InvitedParty { invitation, session, participant })
}
