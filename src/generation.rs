//! The cache generation of this build, when `cache.generation` is not set: the
//! app's version and a digest of what shapes its pages (the templates read from
//! `template_dir` at launch, the static files compiled into the binary). Two
//! builds that render differently then never share a page, even without a version
//! bump; two instances of one build (or of builds that render alike) do.
//!
//! The digest reads contents, never times or absolute paths, in a stable order,
//! so copies of the same templates anywhere give the same generation.

use std::path::{Path, PathBuf};

use figment::Figment;
use sha2::{Digest, Sha256};

use crate::startup_checks::template_dir;
use crate::web::assets::EMBEDDED;

/// Most files read under `template_dir`; a tree past it is digested up to it
/// (and named in the digest as cut), so that a wrong directory cannot stall start.
const MAX_FILES: usize = 10_000;
/// Deepest directory followed (a symbolic link loop ends here).
const MAX_DEPTH: usize = 16;
/// Hex digits of the digest kept in the generation: 64 bits.
const DIGEST_HEX: usize = 16;

/// `<version>-<digest>`: what the app hands the page cache as its deploy id.
pub fn default_generation(figment: &Figment) -> String {
    let templates = template_dir(figment).unwrap_or_default();
    format!(
        "{}-{}",
        env!("CARGO_PKG_VERSION"),
        render_digest(&templates, &EMBEDDED)
    )
}

/// The digest of every file under `templates` (by path relative to it, then
/// content) and of the `embedded` files (by name, then content).
pub fn render_digest(templates: &Path, embedded: &[(&str, &str)]) -> String {
    let mut hasher = Sha256::new();
    let (files, cut) = files_under(templates);
    for (relative, full) in files {
        // An unreadable file still counts, as such: the launch's own template
        // check reports it.
        let content = std::fs::read(&full).unwrap_or_else(|e| e.to_string().into_bytes());
        feed(&mut hasher, "template", relative.as_bytes(), &content);
    }
    if cut {
        feed(&mut hasher, "cut", b"", b"");
    }
    for (name, content) in embedded {
        feed(&mut hasher, "static", name.as_bytes(), content.as_bytes());
    }
    let digest = hex::encode(hasher.finalize());
    digest[..DIGEST_HEX].to_owned()
}

/// One file into the digest, its parts length-prefixed so that no two
/// different sets of files feed the same bytes.
fn feed(hasher: &mut Sha256, kind: &str, name: &[u8], content: &[u8]) {
    for part in [kind.as_bytes(), name, content] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
}

/// Files under `root` as (path relative to it with `/` separators, full path),
/// sorted by relative path; and whether the walk stopped at [`MAX_FILES`].
fn files_under(root: &Path) -> (Vec<(String, PathBuf)>, bool) {
    let mut files = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((dir, prefix, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = format!("{prefix}{name}");
            let path = entry.path();
            // Follows symbolic links, as the template loader does.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if depth < MAX_DEPTH {
                    pending.push((path, format!("{relative}/"), depth + 1));
                }
            } else if meta.is_file() {
                if files.len() == MAX_FILES {
                    files.sort();
                    return (files, true);
                }
                files.push((relative, path));
            }
        }
    }
    files.sort();
    (files, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> PathBuf {
        let root = std::env::temp_dir().join(format!("gen-{:016x}", rand::random::<u64>()));
        for (path, content) in files {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        root
    }

    #[test]
    fn the_digest_follows_contents_and_names_not_places_or_times() {
        let files = [("layout.hbs", "<main>"), ("users/show.hbs", "{{name}}")];
        let (a, b) = (tree(&files), tree(&files));
        let embedded = [("style.css", "body{}")];
        let digest = render_digest(&a, &embedded);
        assert_eq!(digest, render_digest(&b, &embedded), "a copy elsewhere");
        assert_eq!(digest.len(), DIGEST_HEX);

        std::fs::write(b.join("users/show.hbs"), "{{name}}!").unwrap();
        assert_ne!(digest, render_digest(&b, &embedded), "a changed template");
        assert_ne!(
            digest,
            render_digest(&a, &[("style.css", "body{margin:0}")]),
            "a changed stylesheet"
        );
        let renamed = tree(&[("layout.hbs", "<main>"), ("users/list.hbs", "{{name}}")]);
        assert_ne!(digest, render_digest(&renamed, &embedded), "a renamed file");
        for dir in [a, b, renamed] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
