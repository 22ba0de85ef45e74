//! Sign-in, refresh and registration inputs.

use crate::domain::fields::{self, AllFields, FieldErrors, field};
use crate::domain::password;
use crate::domain::people::email_field;
use crate::http::extract::FormBody;

/// Longest refresh token read (ours are far shorter).
const REFRESH_TOKEN_MAX_CHARS: usize = 256;

/// `POST auth/token/`. The email is not shape-checked: a wrong one simply fails to sign in.
pub struct SignIn {
    pub email: String,
    pub password: String,
}

impl SignIn {
    pub fn parse(body: &FormBody) -> Result<Self, FieldErrors> {
        let f = &body.fields;
        let (email, password) = (
            field("email", email_field(f.get("email"), false)),
            field("password", password::field(f.get("password"))),
        )
            .all()?;
        Ok(Self { email, password })
    }
}

/// `POST auth/refresh/`.
pub struct Refresh {
    pub refresh_token: String,
}

impl Refresh {
    pub fn parse(body: &FormBody) -> Result<Self, FieldErrors> {
        let (refresh_token,) = (field(
            "refresh_token",
            fields::text(body.fields.get("refresh_token"), REFRESH_TOKEN_MAX_CHARS),
        ),)
            .all()?;
        Ok(Self { refresh_token })
    }
}

/// `POST auth/register/`: the password rules see the email, so they run once both parsed.
pub struct Register {
    pub email: String,
    pub password: String,
}

impl Register {
    pub fn parse(body: &FormBody) -> Result<Self, FieldErrors> {
        let f = &body.fields;
        let email = field("email", email_field(f.get("email"), true));
        let password = field("password", password::field(f.get("password")));
        let password = match (&email, password) {
            (Ok(email), Ok(password)) => {
                let problems = password::problems(&password, email);
                if problems.is_empty() {
                    Ok(password)
                } else {
                    let mut errors = FieldErrors::default();
                    problems.into_iter().for_each(|p| errors.add("password", p));
                    Err(errors)
                }
            }
            (_, password) => password,
        };
        let (email, password) = (email, password).all()?;
        Ok(Self { email, password })
    }
}
