//! Database URLs as logs and error messages may show them.

/// `raw` with its password, if any, masked; a URL that does not parse is not
/// shown at all (it may hold a password in a place a parser would not find).
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparsable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_masked_and_the_rest_kept() {
        assert_eq!(
            redact_url("mysql://root:secret@db/x"),
            "mysql://root:***@db/x"
        );
        assert_eq!(
            redact_url("mysql://127.0.0.1:3306/test"),
            "mysql://127.0.0.1:3306/test"
        );
        assert_eq!(redact_url("not a url: pw"), "<unparsable url>");
    }
}
