//! Resident ID numbers (居民身份证号码) are personal information: checked on
//! entry, sealed with AES-256-GCM at rest, and shown masked to everyone but
//! the case's own mediators. Never logged.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};

/// Checks an 18-character ID number: 17 digits and a check character
/// computed by the ISO 7064 MOD 11-2 scheme of GB 11643.
pub fn is_valid(number: &str) -> bool {
    let bytes = number.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = bytes[..17].iter().zip(WEIGHTS).map(|(digit, weight)| u32::from(digit - b'0') * weight).sum();
    bytes[17].to_ascii_uppercase() == CHECK[(sum % 11) as usize]
}

/// Keeps the first four and last four characters: `3723**********1234`.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// Seals and opens ID numbers with the installation's key.
pub struct IdNumberVault {
    cipher: Aes256Gcm,
}

impl IdNumberVault {
    pub fn new(key: &[u8]) -> anyhow::Result<Self> {
        let cipher =
            Aes256Gcm::new_from_slice(key).map_err(|_| anyhow::anyhow!("the ID number key must be 32 bytes"))?;
        Ok(Self { cipher })
    }

    /// nonce (12 bytes) || ciphertext with tag.
    pub fn seal(&self, number: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self.cipher.encrypt(&nonce, number.as_bytes()).expect("AES-GCM encryption cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, sealed: &[u8]) -> Option<String> {
        if sealed.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let plain = self.cipher.decrypt(&Nonce::from(nonce), ciphertext).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_the_check_character() {
        assert!(is_valid("11010519491231002X"));
        assert!(is_valid("11010519491231002x"));
        assert!(!is_valid("110105194912310021"));
        assert!(!is_valid("1101051949123100"));
    }

    #[test]
    fn masks_the_middle() {
        assert_eq!(mask("372323199001011234"), "3723**********1234");
    }

    #[test]
    fn seals_and_opens() {
        let vault = IdNumberVault::new(&[7u8; 32]).unwrap();
        let sealed = vault.seal("11010519491231002X");
        assert!(!sealed.windows(18).any(|window| window == b"11010519491231002X"));
        assert_eq!(vault.open(&sealed).as_deref(), Some("11010519491231002X"));
        let other = IdNumberVault::new(&[8u8; 32]).unwrap();
        assert_eq!(other.open(&sealed), None);
    }
}
