//! Time-limited TURN credentials in the TURN REST form that coturn accepts
//! with `use-auth-secret`: username `<unix expiry>:<participant>`, password
//! `base64(HMAC-SHA1(shared secret, username))`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use signaling_proto::IceServer;
use uuid::Uuid;

/// TURN servers and the secret shared with them.
#[derive(Debug, Clone)]
pub struct TurnConfig {
    pub urls: Vec<String>,
    pub secret: String,
    /// How long credentials stay valid, in seconds.
    pub ttl_secs: i64,
}

/// The username and password for `participant`, valid until `expiry`.
pub fn credentials(secret: &str, participant: Uuid, expiry_unix: i64) -> (String, String) {
    let username = format!("{expiry_unix}:{participant}");
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    (username, STANDARD.encode(mac.finalize().into_bytes()))
}

impl TurnConfig {
    /// The TURN entry handed to `participant` at join.
    pub fn ice_server(&self, participant: Uuid, now_unix: i64) -> IceServer {
        let (username, credential) = credentials(&self.secret, participant, now_unix + self.ttl_secs);
        IceServer { urls: self.urls.clone(), username: Some(username), credential: Some(credential) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently with Python's hmac module, as coturn documents
    /// the algorithm (base64 of HMAC-SHA1 over the username).
    #[test]
    fn matches_the_turn_rest_vector() {
        let participant: Uuid = "0f8f6a2e-7f37-4c63-9a52-2e0d1c6a7b11".parse().unwrap();
        let (username, password) = credentials("coturn-shared-secret", participant, 1_700_003_600);
        assert_eq!(username, "1700003600:0f8f6a2e-7f37-4c63-9a52-2e0d1c6a7b11");
        assert_eq!(password, "wmk0SKFX+Ac0ZjqIwy0TREHpaSs=");
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let config = TurnConfig {
            urls: vec!["turns:turn.example.cn:443?transport=tcp".into()],
            secret: "s".into(),
            ttl_secs: 3600,
        };
        let entry = config.ice_server(Uuid::nil(), 1_000);
        assert!(entry.username.unwrap().starts_with("4600:"));
        assert_eq!(entry.urls, config.urls);
    }
}
