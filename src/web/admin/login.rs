//! `/admin/login` and `/admin/logout`.
//!
//! The login form is protected against CSRF like every other form, with a token
//! kept in a short-lived private cookie of its own (there is no session yet). A
//! wrong username or password shows the form again with 401; the password is
//! checked against the argon2 hash on the blocking pool.

use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::request::FlashMessage;
use rocket::response::Redirect;
use rocket::{get, post, routes, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::web::auth::{
    check_login_token, end_session, issue_login_token, start_session, AdminSession, Auth, AuthError,
};
use crate::web::view::{flash_view, local_path, AdminReply, Denied, FlashView};

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
) -> AdminReply {
    let next = local_path(next);
    if session.is_some() {
        return AdminReply::Redirect(Redirect::to(next));
    }
    let configured = auth.login_enabled();
    let csrf = if configured {
        issue_login_token(jar)
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

#[post("/admin/login", data = "<form>")]
async fn login(
    auth: &State<Auth>,
    jar: &CookieJar<'_>,
    form: Form<LoginFields>,
) -> Result<AdminReply, Denied> {
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
                csrf: issue_login_token(jar),
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
        ));
    }
    let password = form.password.as_deref().unwrap_or_default();
    if !auth.check_credentials(&username, password).await {
        return Ok(again(Status::Unauthorized, "Wrong username or password."));
    }
    start_session(jar, auth, &username);
    Ok(AdminReply::done(next, format!("Logged in as {username}.")))
}

#[post("/admin/logout", data = "<form>")]
fn logout(
    session: Result<AdminSession, AuthError>,
    jar: &CookieJar<'_>,
    form: Form<LogoutFields>,
) -> Result<AdminReply, Denied> {
    // A valid session ends only with its token (no forced logouts from elsewhere);
    // a stale cookie is simply dropped.
    if let Ok(session) = session {
        session.check_csrf(form.csrf.as_deref())?;
    }
    end_session(jar);
    Ok(AdminReply::done("/admin/login", "Logged out."))
}
