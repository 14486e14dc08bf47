//! `/admin/login` and `/admin/logout`.
//!
//! The login form is protected against CSRF like every other form, with a token
//! kept in a short-lived private cookie of its own (there is no session yet). A
//! wrong username or password shows the form again with 401; the password is
//! checked against the argon2 hash on the blocking pool, a few at a time. Too many
//! failures from one address or for one username, or too many checks in flight,
//! answer 429 with `Retry-After` without checking the password; a browser with a
//! device cookie for the username (earned by a successful login) is locked only
//! by its own failures.

use std::net::IpAddr;

use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Header, Status};
use rocket::request::{FlashMessage, Request};
use rocket::response::{self, Redirect, Responder};
use rocket::{get, post, routes, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::db::Db;
use crate::web::auth::{
    check_login_token, device_for, end_session, issue_device, issue_login_token, start_session,
    AdminSession, Auth, AuthError, LoginCheck,
};
use crate::web::login_required::{local_path, Denied};
use crate::web::replies::AdminReply;
use crate::web::security_headers::OverTls;
use crate::web::viewer::{flash_view, FlashView};
use rocket_page_cache::Cache;

pub fn routes() -> Vec<Route> {
    routes![login_form, login, logout]
}

#[derive(Debug, FromForm)]
struct LoginFields {
    username: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    next: Option<String>,
}

#[derive(Debug, FromForm)]
struct LogoutFields {
    csrf: Option<String>,
}

/// What `admin/login` shows.
#[derive(Serialize)]
struct LoginView {
    title: &'static str,
    /// Whether a login is configured at all; if not the page says how to.
    configured: bool,
    csrf: String,
    next: String,
    username: String,
    error: Option<&'static str>,
    flash: Option<FlashView>,
}

fn login_page(status: Status, view: &LoginView) -> AdminReply {
    AdminReply::Page(status, Template::render("admin/login", view))
}

#[get("/admin/login?<next>")]
fn login_form(
    auth: &State<Auth>,
    session: Option<AdminSession>,
    jar: &CookieJar<'_>,
    flash: Option<FlashMessage<'_>>,
    next: Option<&str>,
    tls: OverTls,
) -> AdminReply {
    let next = local_path(next);
    if session.is_some() {
        return AdminReply::Redirect(Redirect::to(next));
    }
    let configured = auth.login_enabled();
    let csrf = if configured {
        issue_login_token(jar, tls.0)
    } else {
        String::new()
    };
    let flash = flash.map(flash_view);
    login_page(
        Status::Ok,
        &LoginView {
            title: "Admin login",
            configured,
            csrf,
            next,
            username: String::new(),
            error: None,
            flash,
        },
    )
}

/// A login answer, with `Retry-After` when the attempt was turned away.
struct LoginReply {
    reply: AdminReply,
    retry_after_secs: Option<u64>,
}

impl From<AdminReply> for LoginReply {
    fn from(reply: AdminReply) -> Self {
        Self {
            reply,
            retry_after_secs: None,
        }
    }
}

impl<'r> Responder<'r, 'static> for LoginReply {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let mut response = self.reply.respond_to(request)?;
        if let Some(secs) = self.retry_after_secs {
            response.set_header(Header::new("Retry-After", secs.to_string()));
        }
        Ok(response)
    }
}

#[post("/admin/login", data = "<form>")]
async fn login(
    auth: &State<Auth>,
    cache: Option<&State<Cache>>,
    db: &State<Db>,
    jar: &CookieJar<'_>,
    address: Option<IpAddr>,
    tls: OverTls,
    form: Form<LoginFields>,
) -> Result<LoginReply, Denied> {
    if !auth.login_enabled() {
        return Err(AuthError::NotConfigured.into());
    }
    let next = local_path(form.next.as_deref());
    let username = form.username.clone().unwrap_or_default();
    let again = |status, error| {
        login_page(
            status,
            &LoginView {
                title: "Admin login",
                configured: true,
                csrf: issue_login_token(jar, tls.0),
                next: next.clone(),
                username: username.clone(),
                error: Some(error),
                flash: None,
            },
        )
    };
    if check_login_token(jar, form.csrf.as_deref()).is_err() {
        return Ok(again(
            Status::Forbidden,
            "This login form had expired or did not come from this site. Please try again.",
        )
        .into());
    }
    let password = form.password.as_deref().unwrap_or_default();
    let turned_away = |wait_secs: u64, error| LoginReply {
        reply: again(Status::TooManyRequests, error),
        retry_after_secs: Some(wait_secs.max(1)),
    };
    // A browser that logged in as this username before is not locked out by
    // failures from elsewhere (see `auth::device`).
    let device = device_for(jar, &username);
    let shared = cache.map(State::inner);
    match auth
        .check_login(shared, address, &username, password, device)
        .await
    {
        LoginCheck::Valid => {}
        LoginCheck::Wrong => {
            return Ok(again(Status::Unauthorized, "Wrong username or password.").into())
        }
        LoginCheck::LockedOut(wait) => {
            return Ok(turned_away(
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                "Too many failed logins: wait a little before trying again.",
            ))
        }
        LoginCheck::Busy => {
            return Ok(turned_away(
                1,
                "Too many logins at once: try again in a moment.",
            ))
        }
    }
    start_session(jar, auth, db, &username, tls.0).await?;
    issue_device(jar, &username, tls.0);
    Ok(AdminReply::done(next, format!("Logged in as {username}.")).into())
}

#[post("/admin/logout", data = "<form>")]
async fn logout(
    session: Result<AdminSession, AuthError>,
    db: &State<Db>,
    cache: Option<&State<Cache>>,
    jar: &CookieJar<'_>,
    form: Form<LogoutFields>,
) -> Result<AdminReply, Denied> {
    // A valid session ends only with its token (no forced logouts from elsewhere);
    // a stale cookie is simply dropped.
    match session {
        Ok(session) => session.check_csrf(form.csrf.as_deref())?,
        Err(AuthError::Unavailable) => return Err(AuthError::Unavailable.into()),
        Err(_) => {}
    }
    end_session(jar, db, cache.map(State::inner)).await?;
    Ok(AdminReply::done("/admin/login", "Logged out."))
}
