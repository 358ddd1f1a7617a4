//! Parsing of user-supplied values into types that cannot hold a wrong one. Each parser
//! returns a message fit to show next to the field.

/// An email address, trimmed and lower-cased so that logins are case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_lowercase();
        if s.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        if !email_address::EmailAddress::is_valid(&s) {
            return Err("is not a valid email address".into());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// A password that meets the policy (length only, as NIST SP 800-63B advises).
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < PASSWORD_MIN_CHARS {
            return Err(format!("must be at least {PASSWORD_MIN_CHARS} characters"));
        }
        if n > PASSWORD_MAX_CHARS {
            return Err(format!("must be at most {PASSWORD_MAX_CHARS} characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A trimmed, non-empty name of bounded length.
pub fn name(raw: &str, max_chars: usize) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_owned())
}

/// An ISO 4217 currency code: three upper-case letters.
pub fn currency(raw: &str) -> Result<String, String> {
    if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(raw.to_owned())
    } else {
        Err("must be an ISO 4217 code such as CNY, USD or EUR".into())
    }
}

/// A URL-safe tenant handle derived from a company name: lower-case ASCII letters, digits and
/// dashes. Names with no ASCII letters (e.g. all Chinese) give an empty base; the caller adds a
/// unique suffix in every case.
pub fn slug_base(company_name: &str) -> String {
    let mut out = String::new();
    for c in company_name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    out.trim_matches('-').to_owned()
}

/// A tenant handle given by a client: what [`slug_base`] could produce.
pub fn slug(raw: &str) -> Result<String, String> {
    let ok = (2..=63).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !raw.starts_with('-')
        && !raw.ends_with('-');
    if ok { Ok(raw.to_owned()) } else { Err("must be 2-63 lower-case letters, digits or dashes".into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ana@Example.COM ").unwrap().as_str(), "ana@example.com");
        assert!(Email::parse("not-an-email").is_err());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough pw").is_ok());
    }

    #[test]
    fn slugs_come_from_ascii_parts_of_the_name() {
        assert_eq!(slug_base("ACME Trading Co., Ltd."), "acme-trading-co-ltd");
        assert_eq!(slug_base("华东机械"), "");
        assert!(slug("acme-1").is_ok());
        assert!(slug("-acme").is_err());
    }

    #[test]
    fn currencies_are_iso_codes() {
        assert!(currency("CNY").is_ok());
        assert!(currency("cny").is_err());
        assert!(currency("YUAN").is_err());
    }
}
