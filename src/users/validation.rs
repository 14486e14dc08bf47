//! The rules a user record must follow, apart from any transport: the HTML forms
//! and the JSON API both hand [`UserInput`] to [`validate`] and get either a row
//! to write or one message per wrong field.
//!
//! Lengths are counted in characters, as MySQL counts them for `VARCHAR(n)` in
//! utf8mb4, not in bytes. Uniqueness of the email is the database's to enforce (a
//! unique index), since only it can without a race.
//!
//! Text fields refuse what a reader cannot see (see [`invisible_char`]): a name
//! made of zero-width characters looks empty, and a bidi override makes a name
//! display as something else than what it is.

use std::collections::BTreeMap;

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};
use rocket::form::FromForm;
use serde::{Deserialize, Deserializer, Serialize};

use crate::db::users::NewUser;

/// One message per invalid field, by field name; sorted so output is stable.
pub type FieldErrors = BTreeMap<&'static str, String>;

pub const NAME_MAX: usize = 50;
pub const EMAIL_MAX: usize = 255;
pub const PHONE_MAX: usize = 15;
pub const ADDRESS_MAX: usize = 255;
/// RFC 5321's limit on the part before the `@`.
const LOCAL_PART_MAX: usize = 64;

/// The message for an email the unique index refused.
pub const EMAIL_TAKEN: &str = "email already in use";

/// What a client sent, as sent, through an HTML form or as a JSON body: forms show
/// it again unchanged when it is wrong. A missing field (or a JSON `null`) counts
/// as empty, so that the rules, not a parse error, say what is wrong; an unknown
/// JSON field is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, FromForm)]
#[serde(default, deny_unknown_fields)]
pub struct UserInput {
    #[serde(deserialize_with = "null_as_empty")]
    #[field(default = String::new())]
    pub name: String,
    #[serde(deserialize_with = "null_as_empty")]
    #[field(default = String::new())]
    pub email: String,
    #[serde(deserialize_with = "null_as_empty")]
    #[field(default = String::new())]
    pub phone: String,
    #[serde(deserialize_with = "null_as_empty")]
    #[field(default = String::new())]
    pub address: String,
}

/// A string field that may be sent as `null`.
fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

/// Every field of a user, as forms and the API spell them.
pub const USER_FIELDS: [&str; 4] = ["name", "email", "phone", "address"];

/// One message per field of a replacement (the API's `PUT`, which replaces every
/// field) that the body left out, by `present`: a field is cleared by sending it
/// empty or `null`, never by silence, so a client that forgot one loses nothing.
pub fn missing_fields(present: impl Fn(&str) -> bool) -> FieldErrors {
    USER_FIELDS
        .into_iter()
        .filter(|field| !present(field))
        .map(|field| {
            (
                field,
                "required: PUT replaces every field (send \"\" or null to clear it)".to_owned(),
            )
        })
        .collect()
}

/// The row to write, or why not. Surrounding spaces are trimmed from every field
/// before the rules are applied.
pub fn validate(input: &UserInput) -> Result<NewUser, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = input.name.trim();
    let email = input.email.trim();
    let phone = input.phone.trim();
    let address = input.address.trim();
    if let Err(message) = check_text("Name", name, NAME_MAX) {
        errors.insert("name", message);
    }
    if let Err(message) = check_email(email) {
        errors.insert("email", message);
    }
    if let Err(message) = check_phone(phone) {
        errors.insert("phone", message);
    }
    if let Err(message) = check_text("Address", address, ADDRESS_MAX) {
        errors.insert("address", message);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(NewUser {
        name: name.to_owned(),
        email: email.to_owned(),
        phone: phone.to_owned(),
        address: address.to_owned(),
    })
}

/// Required text of at most `max` characters, without control characters.
fn check_text(label: &str, value: &str, max: usize) -> Result<(), String> {
    let length = value.chars().count();
    if length == 0 {
        return Err(format!("{label} is required."));
    }
    if length > max {
        return Err(format!(
            "{label} must be at most {max} characters (this one has {length})."
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "{label} must not contain control characters such as line breaks or tabs."
        ));
    }
    if let Some(c) = invisible_char(value) {
        return Err(format!(
            "{label} must not contain invisible or formatting characters such as zero-width \
             spaces or text-direction overrides (it holds U+{:04X}).",
            u32::from(c)
        ));
    }
    Ok(())
}

/// The first character a reader would not see or that changes how the text
/// around it is displayed, if any. Refused: format characters (Cf: zero-width
/// spaces, bidi embeddings, overrides and isolates, the BOM, soft hyphens),
/// controls (Cc), private-use (Co) and unassigned (Cn) code points, line and
/// paragraph separators, and the other default-ignorable code points (Hangul
/// fillers, the combining grapheme joiner) that render as nothing.
///
/// Kept, because real names need them: the zero-width joiner and non-joiner
/// between two visible characters (Persian and Indic spellings, emoji
/// sequences), and a variation selector right after a visible character.
pub fn invisible_char(value: &str) -> Option<char> {
    let chars: Vec<char> = value.chars().collect();
    let visible = |i: Option<usize>| i.and_then(|i| chars.get(i)).is_some_and(|&c| !hidden(c));
    chars.iter().enumerate().find_map(|(i, &c)| {
        if !hidden(c) {
            return None;
        }
        let before = visible(i.checked_sub(1));
        let allowed = match c {
            '\u{200C}' | '\u{200D}' => before && visible(Some(i + 1)),
            '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' => before,
            _ => false,
        };
        (!allowed).then_some(c)
    })
}

/// Whether `c` shows nothing by itself (see [`invisible_char`]).
fn hidden(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    matches!(
        category,
        GeneralCategory::Format
            | GeneralCategory::Control
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// Optional; at most 15 characters, digits among spaces and `+ - ( )`.
fn check_phone(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let length = value.chars().count();
    if length > PHONE_MAX {
        return Err(format!(
            "Phone must be at most {PHONE_MAX} characters (this one has {length})."
        ));
    }
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')');
    if !value.chars().all(allowed) {
        return Err("Phone may only contain digits, spaces and + - ( ).".to_owned());
    }
    if !value.chars().any(|c| c.is_ascii_digit()) {
        return Err("Phone must contain at least one digit.".to_owned());
    }
    Ok(())
}

/// Required; at most 255 characters, and an address by the rule browsers apply to
/// `<input type="email">` (WHATWG HTML), so the form and the server agree: a local
/// part of letters, digits and ``.!#$%&'*+/=?^_`{|}~-``, an `@`, and a domain of
/// dot-separated labels of letters, digits and inner hyphens (at most 63 each).
fn check_email(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("Email is required.".to_owned());
    }
    let length = value.chars().count();
    if length > EMAIL_MAX {
        return Err(format!(
            "Email must be at most {EMAIL_MAX} characters (this one has {length})."
        ));
    }
    let invalid = || Err("This is not an email address like name@example.com.".to_owned());
    let Some((local, domain)) = value.split_once('@') else {
        return invalid();
    };
    let local_ok = !local.is_empty()
        && local.len() <= LOCAL_PART_MAX
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c));
    let domain_ok = !domain.is_empty() && domain.split('.').all(is_domain_label);
    if local_ok && domain_ok {
        Ok(())
    } else {
        invalid()
    }
}

fn is_domain_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, email: &str, phone: &str, address: &str) -> UserInput {
        UserInput {
            name: name.into(),
            email: email.into(),
            phone: phone.into(),
            address: address.into(),
        }
    }

    fn good() -> UserInput {
        input(
            "Ada",
            "ada@example.com",
            "+1 (555) 010-99",
            "12 Analytical Row",
        )
    }

    fn errors_of(input: &UserInput) -> FieldErrors {
        validate(input).expect_err("invalid")
    }

    #[test]
    fn a_good_record_is_trimmed_and_accepted() {
        let mut padded = good();
        padded.name = "  Ada  ".into();
        padded.email = " ada@example.com\n".into();
        let row = validate(&padded).unwrap();
        assert_eq!(row.name, "Ada");
        assert_eq!(row.email, "ada@example.com");
        assert_eq!(row.phone, "+1 (555) 010-99");
    }

    #[test]
    fn name_is_1_to_50_characters_not_bytes() {
        let mut user = good();
        user.name = "   ".into();
        assert_eq!(errors_of(&user)["name"], "Name is required.");
        user.name = "é".repeat(50);
        assert!(validate(&user).is_ok(), "50 two-byte characters fit");
        user.name = "é".repeat(51);
        assert!(errors_of(&user)["name"].contains("at most 50"));
        user.name = "Ada\tLovelace".into();
        assert!(errors_of(&user)["name"].contains("control"));
    }

    #[test]
    fn ordinary_names_from_many_scripts_are_accepted() {
        let mut user = good();
        for ok in [
            "José Álvarez-Núñez",
            "Zoë O'Brien",
            "Đặng Thị Ngọc Hân",
            "李小龍",
            "山田 太郎",
            "Ἀριστοτέλης",
            "Владимир",
            "محمد\u{200C}رضا",
            "क्\u{200D}ष",
            "Ada \u{2764}\u{FE0F}",
            "Jean\u{2011}Luc",
        ] {
            user.name = ok.into();
            assert!(validate(&user).is_ok(), "{ok:?}: {:?}", validate(&user));
        }
    }

    #[test]
    fn names_with_invisible_or_direction_changing_characters_are_refused() {
        let mut user = good();
        let bidi = ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}');
        let zero_width = [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
            "\u{200D}Ada",
            "Ada\u{200C}",
            "A\u{00AD}da",
            "\u{3164}",
            "\u{115F}\u{1160}",
            "A\u{034F}da",
            "\u{FE0F}",
            "Ada\u{E000}",
            "Ada\u{0378}",
            "Ada\u{2028}Lovelace",
        ];
        for bad in bidi
            .map(|c| format!("Ada{c}ecalevol"))
            .chain(zero_width.map(String::from))
        {
            user.name = bad.clone();
            let message = &errors_of(&user)["name"];
            assert!(message.contains("invisible"), "{bad:?}: {message}");
        }
        user.address = "12 Analytical\u{202E}woR".into();
        assert!(errors_of(&user)["address"].contains("U+202E"));
    }

    #[test]
    fn address_is_1_to_255_characters() {
        let mut user = good();
        user.address = String::new();
        assert_eq!(errors_of(&user)["address"], "Address is required.");
        user.address = "a".repeat(255);
        assert!(validate(&user).is_ok());
        user.address = "a".repeat(256);
        assert!(errors_of(&user)["address"].contains("at most 255"));
    }

    #[test]
    fn phone_is_optional_short_and_made_of_dialling_characters() {
        let mut user = good();
        user.phone = String::new();
        assert!(validate(&user).is_ok());
        user.phone = "1".repeat(15);
        assert!(validate(&user).is_ok());
        user.phone = "1".repeat(16);
        assert!(errors_of(&user)["phone"].contains("at most 15"));
        for bad in ["555-CALL", "12.34", "+1 555 ext 2", "١٢٣"] {
            user.phone = bad.into();
            assert!(errors_of(&user)["phone"].contains("only"), "{bad}");
        }
        user.phone = "+()-".into();
        assert!(errors_of(&user)["phone"].contains("digit"));
    }

    #[test]
    fn email_must_look_like_an_address() {
        let mut user = good();
        for ok in [
            "a@b",
            "first.last+tag@sub.example.co.uk",
            "o'neil@example.com",
            "x@xn--bcher-kva.example",
        ] {
            user.email = ok.into();
            assert!(validate(&user).is_ok(), "{ok}");
        }
        for bad in [
            "plain",
            "@example.com",
            "a@",
            "a@@b.com",
            "a b@example.com",
            "a@-example.com",
            "a@example-.com",
            "a@exa_mple.com",
            "a@example..com",
            "ümlaut@example.com",
            "\"quoted\"@example.com",
        ] {
            user.email = bad.into();
            assert!(
                errors_of(&user)["email"].contains("not an email address"),
                "{bad}"
            );
        }
        user.email = String::new();
        assert_eq!(errors_of(&user)["email"], "Email is required.");
    }

    #[test]
    fn email_is_at_most_255_characters() {
        let mut user = good();
        let domain = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(50)
        );
        user.email = format!("{}@{domain}", "x".repeat(255 - 1 - domain.len()));
        assert_eq!(user.email.len(), 255);
        assert!(validate(&user).is_ok());
        user.email = format!("{}@{domain}", "x".repeat(256 - 1 - domain.len()));
        assert!(errors_of(&user)["email"].contains("at most 255"));
    }

    #[test]
    fn every_wrong_field_gets_its_own_message() {
        let errors = errors_of(&input("", "nope", "abc", ""));
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["address", "email", "name", "phone"]
        );
    }
}
