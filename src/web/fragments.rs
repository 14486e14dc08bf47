//! Fragments of admin pages: the parts every admin sees alike (a list's rows
//! with their Edit and Delete links, a user's details) rendered from their own
//! template, kept in the shared store by [`Cache::fragment`](rocket_page_cache::Cache::fragment)
//! under the rows they read, and placed in the page by the `{{fragment "name"}}`
//! helper. The page around them (the admin's name, the logout form's CSRF token,
//! a flash message) is rendered for each view and never stored.
//!
//! Handlebars cannot wait on Redis while it renders, so a route resolves its
//! fragments first and hands them over in its context's `fragments` field; the
//! helper writes the one it names as it is (it was escaped when its template
//! rendered it). Only [`Html`], made by [`render`] from a template, goes there,
//! so no text of a request can reach a page unescaped this way.

use std::collections::BTreeMap;
use std::time::Duration;

use rocket_dyn_templates::handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use rocket_dyn_templates::{Engines, Metadata};
use serde::{Deserialize, Serialize};

use super::error::AppError;

/// How long a fragment is kept: a backstop, since a change of a row it read
/// purges it at once (from the writer, or from the follower for anyone's).
pub const FRAGMENT_TTL: Duration = Duration::from_mins(5);

/// What admin fragments vary by: the role, which is the same for every admin
/// (never who the admin is).
pub const ADMIN_ROLE: (&str, &str) = ("role", "admin");

/// HTML rendered from a template, ready to be placed by `{{fragment}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Html(String);

/// The fragments of one page, by the name its template places them with.
pub type Fragments = BTreeMap<&'static str, Html>;

/// Renders `template` with `context` on its own (not inside a layout).
pub fn render(
    metadata: &Metadata<'_>,
    template: &'static str,
    context: impl Serialize,
) -> Result<Html, AppError> {
    metadata
        .render(template, context)
        .map(|(_, html)| Html(html))
        .ok_or_else(|| AppError::Internal(format!("the template {template} did not render")))
}

/// Registers the `{{fragment "name"}}` helper with the template engine.
pub fn register_helpers(engines: &mut Engines) {
    engines
        .handlebars
        .register_helper("fragment", Box::new(place_fragment));
}

/// `{{fragment "name"}}`: the page context's `fragments.name`, written as it
/// is; a name the route did not resolve fails the render (a bug, not input).
fn place_fragment(
    helper: &Helper,
    _: &Handlebars,
    context: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let name = helper
        .param(0)
        .and_then(|param| param.value().as_str())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("fragment", 0))?;
    let html = context
        .data()
        .get("fragments")
        .and_then(|fragments| fragments.get(name))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| RenderErrorReason::MissingVariable(Some(format!("fragments.{name}"))))?;
    out.write(html)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_places_a_named_fragment_as_rendered_and_refuses_an_unknown_name() {
        let mut handlebars = Handlebars::new();
        handlebars.register_helper("fragment", Box::new(place_fragment));
        handlebars
            .register_template_string("page", "<main>{{fragment \"list\"}}</main>")
            .expect("template");
        let placed = handlebars.render(
            "page",
            &serde_json::json!({ "fragments": { "list": "<p>Tom &amp; Jerry</p>" } }),
        );
        assert_eq!(
            placed.expect("renders"),
            "<main><p>Tom &amp; Jerry</p></main>"
        );
        let missing = handlebars.render("page", &serde_json::json!({ "fragments": {} }));
        assert!(missing.is_err(), "an unresolved fragment is a render error");
    }
}
