//! The admin's HTML forms for users: new, edit, and delete with a confirm step.
//!
//! A GET needs a session (else the login page, which comes back). A POST needs the
//! session and its CSRF token (else 403), then input that follows the rules (else
//! the form again with a message per field, 422), and redirects after the write
//! (Post/Redirect/Get) with a message. Nothing here is ever cached.

use rocket::data::Limits;
use rocket::form::{self, Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, routes, Route, State};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;

use super::auth::{AdminSession, AuthError};
use super::csrf_form::{refused, CsrfForm};
use super::login_required::{page_session, Denied};
use super::replies::AdminReply;
use super::viewer::AdminView;
use crate::db::reads::Unrecorded;
use crate::db::users::{User, UserId};
use crate::db::Db;
use crate::users::id::{segment, NoSuchUser};
use crate::users::invalidation::Purge;
use crate::users::reads::load_user;
use crate::users::render_db::RenderDb;
use crate::users::validation::{FieldErrors, UserInput};
use crate::users::writes::{self, WriteError};
use crate::web::error::AppError;
use rocket_page_cache::Cache;

pub fn routes() -> Vec<Route> {
    routes![new_form, create, edit_form, update, delete_form, delete]
}

/// A form carrying only its CSRF token (delete).
#[derive(Debug, FromForm)]
struct TokenOnly {
    csrf: Option<String>,
}

/// What `users/form` shows: the values as typed and a message per wrong field.
#[derive(Serialize)]
struct FormView<'a> {
    title: String,
    action: String,
    submit: &'static str,
    cancel: String,
    values: &'a UserInput,
    errors: &'a FieldErrors,
    admin: AdminView,
}

fn form_page(status: Status, view: &FormView<'_>) -> AdminReply {
    AdminReply::Page(status, Template::render("users/form", view))
}

fn input_of(user: &User) -> UserInput {
    UserInput {
        name: user.name.clone(),
        email: user.email.clone(),
        phone: user.phone.clone(),
        address: user.address.clone(),
    }
}

/// The message after a write, with a warning when the cache has not caught up.
fn done_message(what: String, purge: Purge) -> String {
    match purge {
        Purge::Done => what,
        Purge::Pending => format!(
            "{what} The page cache could not be purged yet (it is being retried): visitors \
             may see the old version for a short while."
        ),
    }
}

/// Why a form's POST is not carried out.
enum Refused {
    /// The login ended while the form was open: say so, link the login page (which
    /// comes back to the form) and show what was typed, so that none of it is lost.
    SessionEnded {
        form: String,
    },
    Denied(Denied),
}

impl From<Denied> for Refused {
    fn from(denied: Denied) -> Self {
        Self::Denied(denied)
    }
}

impl Refused {
    fn reply(self, typed: Option<&UserInput>) -> Result<AdminReply, Denied> {
        match self {
            Self::SessionEnded { form } => {
                let next: String = url::form_urlencoded::byte_serialize(form.as_bytes()).collect();
                Ok(AdminReply::Page(
                    Status::Unauthorized,
                    Template::render(
                        "users/session_ended",
                        context! {
                            title: "Your login has ended",
                            login: format!("/admin/login?next={next}"),
                            values: typed,
                        },
                    ),
                ))
            }
            Self::Denied(denied) => Err(denied),
        }
    }
}

/// A POST's session and CSRF token: without a session, [`Refused::SessionEnded`]
/// (back to `form` after logging in); with a wrong token, 403.
fn form_session(
    session: Result<AdminSession, AuthError>,
    csrf: Option<&str>,
    form: &str,
) -> Result<AdminSession, Refused> {
    let session = match session {
        Ok(session) => session,
        Err(AuthError::LoginRequired) => {
            return Err(Refused::SessionEnded {
                form: form.to_owned(),
            })
        }
        Err(other) => return Err(Denied::from(other).into()),
    };
    session
        .check_csrf(csrf)
        .map_err(|e| Refused::Denied(e.into()))?;
    Ok(session)
}

#[get("/users/new")]
fn new_form(session: Result<AdminSession, AuthError>) -> Result<AdminReply, Denied> {
    let session = page_session(session, "/users/new")?;
    Ok(form_page(
        Status::Ok,
        &FormView {
            title: "New user".to_owned(),
            action: "/users/new".to_owned(),
            submit: "Create user",
            cancel: "/".to_owned(),
            values: &<UserInput as Default>::default(),
            errors: &FieldErrors::new(),
            admin: AdminView::from(&session),
        },
    ))
}

#[post("/users/new", data = "<form>")]
async fn create(
    db: &State<Db>,
    cache: &State<Cache>,
    session: Result<AdminSession, AuthError>,
    limits: &Limits,
    form: Result<Form<CsrfForm<UserInput>>, form::Errors<'_>>,
) -> Result<AdminReply, Denied> {
    let CsrfForm {
        csrf,
        fields: input,
    } = form.map_err(|e| refused(&e, limits))?.into_inner();
    let session = match form_session(session, csrf.as_deref(), "/users/new") {
        Ok(session) => session,
        Err(refused) => return refused.reply(Some(&input)),
    };
    match writes::create_user(db, cache, &input).await {
        Ok(written) => {
            let user = written.value;
            let message = format!("Created {} (user {}).", user.name, user.id);
            Ok(AdminReply::done(
                format!("/users/{}", user.id),
                done_message(message, written.purge),
            ))
        }
        Err(WriteError::Invalid(errors)) => Ok(form_page(
            Status::UnprocessableEntity,
            &FormView {
                title: "New user".to_owned(),
                action: "/users/new".to_owned(),
                submit: "Create user",
                cancel: "/".to_owned(),
                values: &input,
                errors: &errors,
                admin: AdminView::from(&session),
            },
        )),
        Err(other) => Err(AppError::from(other).into()),
    }
}

fn edit_view<'a>(
    id: &str,
    name: &str,
    values: &'a UserInput,
    errors: &'a FieldErrors,
    session: &AdminSession,
) -> FormView<'a> {
    FormView {
        title: format!("Edit {name}"),
        action: format!("/users/{id}/edit"),
        submit: "Save changes",
        cancel: format!("/users/{id}"),
        values,
        errors,
        admin: AdminView::from(session),
    }
}

#[get("/users/<id>/edit")]
async fn edit_form(
    db: &State<Db>,
    session: Result<AdminSession, AuthError>,
    id: Result<UserId, NoSuchUser>,
) -> Result<AdminReply, Denied> {
    let session = page_session(session, &format!("/users/{}/edit", segment(&id)))?;
    let user = load_user(
        &RenderDb::primary(db),
        &Unrecorded,
        id.map_err(AppError::from)?,
    )
    .await?;
    let values = input_of(&user);
    let no_errors = FieldErrors::new();
    let view = edit_view(
        &user.id.to_string(),
        &user.name,
        &values,
        &no_errors,
        &session,
    );
    Ok(form_page(Status::Ok, &view))
}

#[post("/users/<id>/edit", data = "<form>")]
async fn update(
    db: &State<Db>,
    cache: &State<Cache>,
    session: Result<AdminSession, AuthError>,
    id: Result<UserId, NoSuchUser>,
    limits: &Limits,
    form: Result<Form<CsrfForm<UserInput>>, form::Errors<'_>>,
) -> Result<AdminReply, Denied> {
    let CsrfForm {
        csrf,
        fields: input,
    } = form.map_err(|e| refused(&e, limits))?.into_inner();
    let edit = format!("/users/{}/edit", segment(&id));
    let session = match form_session(session, csrf.as_deref(), &edit) {
        Ok(session) => session,
        Err(refused) => return refused.reply(Some(&input)),
    };
    let id = id.map_err(AppError::from)?;
    match writes::update_user(db, cache, id, &input).await {
        Ok(written) => {
            let user = written.value;
            let message = format!("Saved {} (user {}).", user.name, user.id);
            Ok(AdminReply::done(
                format!("/users/{id}"),
                done_message(message, written.purge),
            ))
        }
        Err(WriteError::Invalid(errors)) => {
            // The heading keeps the stored name, not what was typed.
            let stored = load_user(&RenderDb::primary(db), &Unrecorded, id).await?;
            let view = edit_view(&id.to_string(), &stored.name, &input, &errors, &session);
            Ok(form_page(Status::UnprocessableEntity, &view))
        }
        Err(other) => Err(AppError::from(other).into()),
    }
}

#[get("/users/<id>/delete")]
async fn delete_form(
    db: &State<Db>,
    session: Result<AdminSession, AuthError>,
    id: Result<UserId, NoSuchUser>,
) -> Result<AdminReply, Denied> {
    let session = page_session(session, &format!("/users/{}/delete", segment(&id)))?;
    let user = load_user(
        &RenderDb::primary(db),
        &Unrecorded,
        id.map_err(AppError::from)?,
    )
    .await?;
    Ok(AdminReply::page(Template::render(
        "users/delete",
        context! {
            title: format!("Delete {}", user.name),
            user,
            admin: AdminView::from(&session),
        },
    )))
}

#[post("/users/<id>/delete", data = "<form>")]
async fn delete(
    db: &State<Db>,
    cache: &State<Cache>,
    session: Result<AdminSession, AuthError>,
    id: Result<UserId, NoSuchUser>,
    form: Form<TokenOnly>,
) -> Result<AdminReply, Denied> {
    let delete = format!("/users/{}/delete", segment(&id));
    if let Err(refused) = form_session(session, form.csrf.as_deref(), &delete) {
        return refused.reply(None);
    }
    let id = id.map_err(AppError::from)?;
    let written = writes::delete_user(db, cache, id)
        .await
        .map_err(AppError::from)?;
    Ok(AdminReply::done(
        "/",
        done_message(format!("Deleted user {id}."), written.purge),
    ))
}
