//! Deploys that never mix old and new pages: the default generation carries a
//! digest of the templates (and static files), so two builds that render
//! differently keep apart on one Redis namespace, and builds that render alike
//! share.

use std::path::{Path, PathBuf};

use test_support::random_name;

use crate::support::TestApp;

/// A copy of the repository's templates in a directory of its own, removed when
/// dropped.
struct TemplateCopy(PathBuf);

impl TemplateCopy {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(random_name("templates"));
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
            &dir,
        );
        Self(dir)
    }

    fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }

    /// Replaces `from` by `to` in one template, as a new build's edit would.
    fn edit(&self, template: &str, from: &str, to: &str) {
        let file = self.0.join(template);
        let text = std::fs::read_to_string(&file).expect("read the template");
        assert!(text.contains(from), "{template} holds {from:?}");
        std::fs::write(&file, text.replace(from, to)).expect("write the template");
    }
}

impl Drop for TemplateCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the templates") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a template");
        }
    }
}

const OLD_FOOTER: &str = "Served by rocket-cache.";
const NEW_FOOTER: &str = "Served by the next build of rocket-cache.";

#[rocket::async_test]
async fn instances_with_different_templates_each_serve_only_their_own_html() {
    let old = TestApp::spawn().await;
    let edited = TemplateCopy::new();
    edited.edit("partials/footer.html.hbs", OLD_FOOTER, NEW_FOOTER);
    let new = old.peer().with("template_dir", edited.path()).start().await;
    let unchanged = TemplateCopy::new();
    let twin = old
        .peer()
        .with("template_dir", unchanged.path())
        .start()
        .await;
    old.insert_users(3);

    for round in 0..2 {
        let page = old.fetch("/").await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains(OLD_FOOTER) && !page.body.contains(NEW_FOOTER),
            "round {round}: the old build served another build's page ({})",
            page.x_cache()
        );
        let page = new.fetch("/").await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains(NEW_FOOTER),
            "round {round}: the new build served the old build's page ({})",
            page.x_cache()
        );
        let expected = if round == 0 { "MISS" } else { "HIT" };
        assert_eq!(page.x_cache(), expected, "round {round}: its own entry");
    }
    let shared = twin.fetch("/").await;
    assert_eq!(
        shared.x_cache(),
        "HIT",
        "the same templates elsewhere share the old build's entries"
    );
    assert!(shared.body.contains(OLD_FOOTER) && !shared.body.contains(NEW_FOOTER));
    assert_ne!(
        old.cache().key_base(),
        new.cache().key_base(),
        "the generations differ"
    );
}

#[rocket::async_test]
async fn an_explicit_generation_wins_over_the_digest() {
    let old = TestApp::spawn().await;
    let edited = TemplateCopy::new();
    edited.edit("partials/footer.html.hbs", OLD_FOOTER, NEW_FOOTER);
    let pinned = old
        .peer()
        .with("template_dir", edited.path())
        .with("cache.generation", "pinned-1")
        .start()
        .await;
    assert!(pinned.cache().key_base().ends_with(":pinned-1:"));
    assert!(old
        .cache()
        .key_base()
        .contains(&format!(":{}-", env!("CARGO_PKG_VERSION"))));
}
