//! Creating, changing and deleting users, shared by the HTML forms and the JSON
//! API: validate, write in a transaction, and once it has committed, purge the
//! cached pages it changed.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::invalidation::{self, Purge};
use super::validation::{validate, FieldErrors, UserInput, EMAIL_TAKEN};
use crate::db::reads::Unrecorded;
use crate::db::users::{self, User, UserId};
use crate::db::Db;
use crate::web::error::AppError;
use rocket_page_cache::Cache;

/// Why a write did not happen. Nothing was written in any case.
#[derive(Debug)]
pub enum WriteError {
    /// The input breaks a rule (the email's uniqueness included).
    Invalid(FieldErrors),
    NotFound(UserId),
    /// The database failed; the message for the user is in the [`AppError`].
    Failed(AppError),
}

impl From<WriteError> for AppError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Invalid(fields) => Self::Invalid(fields),
            WriteError::NotFound(id) => Self::NotFound(format!("There is no user {id}.")),
            WriteError::Failed(error) => error,
        }
    }
}

/// A committed write and whether the cache has caught up.
#[derive(Debug)]
pub struct Written<T> {
    pub value: T,
    pub purge: Purge,
}

fn db_error(error: DieselError, id: Option<UserId>) -> WriteError {
    match (error, id) {
        // The only unique key besides the auto-increment id is `user_email_unique`.
        (DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _), _) => {
            WriteError::Invalid(FieldErrors::from([("email", EMAIL_TAKEN.to_owned())]))
        }
        (DieselError::NotFound, Some(id)) => WriteError::NotFound(id),
        (other, _) => WriteError::Failed(other.into()),
    }
}

async fn conn(db: &Db) -> Result<crate::db::DbConn, WriteError> {
    db.conn().await.map_err(|e| WriteError::Failed(e.into()))
}

/// `fields` (the rules `input` breaks) plus a taken email, when the email itself is
/// well formed and belongs to a user other than `id`: every mistake is reported at
/// once. The unique index still decides when the rules pass.
async fn with_taken_email(
    conn: &mut crate::db::DbConn,
    input: &UserInput,
    id: Option<UserId>,
    mut fields: FieldErrors,
) -> Result<FieldErrors, WriteError> {
    if fields.contains_key("email") {
        return Ok(fields);
    }
    let owner = users::email_owner(conn, input.email.trim())
        .await
        .map_err(|e| WriteError::Failed(e.into()))?;
    if owner.is_some() && owner != id {
        fields.insert("email", EMAIL_TAKEN.to_owned());
    }
    Ok(fields)
}

/// Creates a user from `input`.
pub async fn create_user(
    db: &Db,
    cache: &Cache,
    input: &UserInput,
) -> Result<Written<User>, WriteError> {
    let row = match validate(input) {
        Ok(row) => row,
        Err(fields) => {
            let fields = with_taken_email(&mut conn(db).await?, input, None, fields).await?;
            return Err(WriteError::Invalid(fields));
        }
    };
    let user = users::insert(&mut conn(db).await?, row)
        .await
        .map_err(|e| db_error(e, None))?;
    let purge =
        invalidation::after_commit(db, cache, invalidation::inserted::<User>(user.id)).await;
    Ok(Written { value: user, purge })
}

/// Replaces user `id` with `input`. An unknown id is `NotFound` whatever the input.
pub async fn update_user(
    db: &Db,
    cache: &Cache,
    id: UserId,
    input: &UserInput,
) -> Result<Written<User>, WriteError> {
    let mut conn = conn(db).await?;
    let row = match validate(input) {
        Ok(row) => row,
        Err(fields) => {
            users::find(&mut conn, &Unrecorded, id)
                .await
                .map_err(|e| db_error(e, Some(id)))?;
            let fields = with_taken_email(&mut conn, input, Some(id), fields).await?;
            return Err(WriteError::Invalid(fields));
        }
    };
    let user = users::update(&mut conn, id, row)
        .await
        .map_err(|e| db_error(e, Some(id)))?;
    drop(conn);
    let purge = invalidation::after_commit(db, cache, invalidation::updated::<User>(id)).await;
    Ok(Written { value: user, purge })
}

/// Deletes user `id`.
pub async fn delete_user(db: &Db, cache: &Cache, id: UserId) -> Result<Written<()>, WriteError> {
    users::delete(&mut conn(db).await?, id)
        .await
        .map_err(|e| db_error(e, Some(id)))?;
    let purge = invalidation::after_commit(db, cache, invalidation::deleted::<User>(id)).await;
    Ok(Written { value: (), purge })
}
