//! Signing in and out of the console. Sign-in is the API's (`services::auth::password_sign_in`:
//! the same throttle, the same answer for a wrong email, password or a deactivated person);
//! customers who sign in correctly are told the console is for staff.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::assets::{URLS, Urls};
use super::pages::{PageError, PageResult};
use super::session::{Agent, COOKIE, PRE_COOKIE, cookie, csrf_matches, csrf_of, new_token};
use crate::app::AppState;
use crate::domain::secrets::hash_secret;
use crate::http::extract::{ClientIp, FormBody};
use crate::http::inputs::auth::SignIn;
use crate::services::auth::{SignInError, SignInRefused, password_sign_in};
use crate::store::console_sessions;

pub const BAD_CREDENTIALS: &str = "Unable to sign in with that email and password.";
pub const NOT_STAFF: &str = "The console is for support staff only. Customers follow their tickets in the app they opened them in.";

#[derive(Template, WebTemplate)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    urls: &'static Urls,
    csrf: String,
    email: String,
    error: String,
}

/// The sign-in page, with a fresh CSRF cookie for its form (login CSRF: another site cannot
/// sign a browser into an account of its choosing).
fn sign_in_page(status: StatusCode, state: &AppState, email: &str, error: &str) -> Response {
    let secret = hex::encode(rand::random::<[u8; 16]>());
    let page = SignInPage {
        urls: &URLS,
        csrf: csrf_of(&secret),
        email: email.to_owned(),
        error: error.to_owned(),
    };
    let mut response = (status, page).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        state.console.cookie(PRE_COOKIE, &secret, 3600, "Strict"),
    );
    response
}

/// `GET /console/sign-in`.
pub async fn page(State(state): State<AppState>) -> Response {
    sign_in_page(StatusCode::OK, &state, "", "")
}

impl From<SignInError> for PageError {
    fn from(err: SignInError) -> Self {
        Self(err.into())
    }
}

/// `POST /console/sign-in`: email and password of an agent or administrator.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: FormBody,
) -> PageResult {
    let expected = cookie(&headers, PRE_COOKIE).map(csrf_of);
    let sent = body.fields.text("csrf");
    if !expected.is_some_and(|e| csrf_matches(&e, sent.as_deref())) {
        return Ok(sign_in_page(
            StatusCode::FORBIDDEN,
            &state,
            "",
            "The form had expired. Please sign in again.",
        ));
    }
    let typed_email = body.fields.text("email").unwrap_or_default();
    let Ok(SignIn { email, password }) = SignIn::parse(&body) else {
        return Ok(sign_in_page(
            StatusCode::BAD_REQUEST,
            &state,
            &typed_email,
            "Enter your email and password.",
        ));
    };
    let person =
        match password_sign_in(&state.db, &state.sign_in_throttle, &email, password, ip).await? {
            Ok(person) => person,
            Err(SignInRefused::Throttled(wait)) => {
                let mut response = sign_in_page(
                    StatusCode::TOO_MANY_REQUESTS,
                    &state,
                    &typed_email,
                    &format!("Too many attempts. Try again in {wait} seconds."),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, wait.into());
                return Ok(response);
            }
            Err(SignInRefused::BadCredentials) => {
                return Ok(sign_in_page(
                    StatusCode::UNAUTHORIZED,
                    &state,
                    &typed_email,
                    BAD_CREDENTIALS,
                ));
            }
        };
    if !person.role.is_staff() {
        return Ok(sign_in_page(
            StatusCode::FORBIDDEN,
            &state,
            &typed_email,
            NOT_STAFF,
        ));
    }
    let token = new_token();
    console_sessions::create(&state.db, &hash_secret(&token), person.id).await?;
    let mut response = Redirect::to("/console").into_response();
    let settings = state.console;
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        settings.cookie(COOKIE, &token, settings.absolute_secs, "Lax"),
    );
    headers.append(
        header::SET_COOKIE,
        settings.cookie(PRE_COOKIE, "", 0, "Strict"),
    );
    Ok(response)
}

/// Signed out: back to the sign-in page, the cookie cleared.
fn signed_out(state: &AppState) -> Response {
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        state.console.cookie(COOKIE, "", 0, "Lax"),
    );
    response
}

/// Refuses a state-changing request whose CSRF token is missing or wrong.
pub fn check_csrf(agent: &Agent, body: &FormBody) -> Result<(), PageError> {
    if csrf_matches(&agent.csrf, body.fields.text("csrf").as_deref()) {
        Ok(())
    } else {
        Err(PageError(crate::http::envelope::ApiError::detail(
            StatusCode::FORBIDDEN,
            "The page had expired (its security token did not match). Reload it and try again.",
        )))
    }
}

/// `POST /console/sign-out`: this session.
pub async fn sign_out(State(state): State<AppState>, agent: Agent, body: FormBody) -> PageResult {
    check_csrf(&agent, &body)?;
    console_sessions::end(&state.db, agent.session_id).await?;
    Ok(signed_out(&state))
}

/// `POST /console/sign-out-everywhere`: every console session of the person.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    agent: Agent,
    body: FormBody,
) -> PageResult {
    check_csrf(&agent, &body)?;
    console_sessions::end_all(&state.db, agent.person.id).await?;
    Ok(signed_out(&state))
}
