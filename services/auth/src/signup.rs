//! What a new account must meet.

use chrono::{Datelike, NaiveDate};
use smez_kit::Error;

/// Passwords: long enough to resist guessing, short enough that hashing
/// stays cheap (argon2 cost does not depend on length, the copy does).
pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 256;
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

pub fn check_password(field: &str, password: &str, email: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid_field(
            field,
            format!("{field} must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid_field(
            field,
            format!("{field} must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    if password.trim().eq_ignore_ascii_case(email) {
        return Err(Error::invalid_field(
            field,
            format!("{field} must not be the email address"),
        ));
    }
    Ok(())
}

/// Parses the date of birth and refuses anyone younger than `min_age` on `today`.
pub fn check_date_of_birth(text: &str, min_age: u32, today: NaiveDate) -> Result<NaiveDate, Error> {
    let field = "date_of_birth";
    let born = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Error::invalid_field(field, "date_of_birth must be a date like 1990-04-21"))?;
    if born > today || born.year() < 1900 {
        return Err(Error::invalid_field(
            field,
            "date_of_birth is not a plausible birth date",
        ));
    }
    if age_on(born, today) < min_age {
        return Err(Error::invalid_field(
            field,
            format!("Smez is not for anyone under {min_age}; this account cannot be created"),
        ));
    }
    Ok(born)
}

/// Full years between `born` and `today` (a 29 February birthday counts on 1 March).
fn age_on(born: NaiveDate, today: NaiveDate) -> u32 {
    let had_birthday = (today.month(), today.day()) >= (born.month(), born.day());
    let years = today.year() - born.year() - i32::from(!had_birthday);
    years.max(0) as u32
}
