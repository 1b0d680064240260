//! Checks for the few free-text fields people type: emails and names. Names
//! are kept verbatim (SQL or HTML in a name is just text: it is bound as a
//! parameter and escaped by whoever renders it), only trimmed and refused when
//! empty, too long or holding control characters.

use crate::error::Error;

/// Longest email accepted (RFC 5321's path limit).
const MAX_EMAIL_LEN: usize = 254;

/// The canonical form of an email: trimmed and lowercased, so that one
/// person cannot hold two accounts by changing case. Refuses what cannot be
/// an address, naming `field`.
pub fn normalize_email(field: &str, email: &str) -> Result<String, Error> {
    let email = email.trim().to_lowercase();
    let invalid = |why: &str| Error::invalid_field(field, format!("{field} {why}"));
    if email.is_empty() {
        return Err(invalid("is required"));
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(invalid(&format!("is longer than {MAX_EMAIL_LEN} characters")));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid("is not an email address (no @)"));
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("is not an email address"));
    }
    Ok(email)
}

/// A display text (a person's or a workspace's name): trimmed, 1..=`max_chars`
/// characters, no control characters.
pub fn display_text(field: &str, value: &str, max_chars: usize) -> Result<String, Error> {
    let value = value.trim();
    let count = value.chars().count();
    if count == 0 {
        return Err(Error::invalid_field(field, format!("{field} is required")));
    }
    if count > max_chars {
        return Err(Error::invalid_field(
            field,
            format!("{field} is longer than {max_chars} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("email", "  Ana@Example.COM ").unwrap(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@example",
            "ana@.com",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(normalize_email("email", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_keep_sql_and_html_verbatim() {
        let name = "Robert'); DROP TABLE users;-- <script>alert(1)</script>";
        assert_eq!(display_text("name", name, 200).unwrap(), name);
        assert!(display_text("name", "  ", 10).is_err());
        assert!(display_text("name", "a\u{0}b", 10).is_err());
        assert!(display_text("name", &"é".repeat(11), 10).is_err());
        assert_eq!(display_text("name", &"é".repeat(10), 10).unwrap().chars().count(), 10);
    }
}
