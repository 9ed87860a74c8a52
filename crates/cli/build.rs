//! Embeds the app templates of `edgekv new` in the binary: each language's folder under
//! `templates/`, the `wit/` files and that language's guest library (an app lives outside this
//! repository, so it gets its own copies). Writes `$OUT_DIR/templates.rs`, a table of
//! `(language, path in the app, is a template, bytes)`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Each language's guest library: (file under guest-libs/<lang>, where the app keeps it).
const LIBRARIES: &[(&str, &str, &str)] = &[
    ("rust", "rust/Cargo.toml", "edgekv-guest/Cargo.toml"),
    ("rust", "rust/src/lib.rs", "edgekv-guest/src/lib.rs"),
    ("rust", "rust/src/error.rs", "edgekv-guest/src/error.rs"),
    ("rust", "rust/src/list.rs", "edgekv-guest/src/list.rs"),
    ("rust", "rust/src/put.rs", "edgekv-guest/src/put.rs"),
    ("js", "js/edgekv.js", "lib/edgekv.js"),
    ("python", "python/edgekv.py", "edgekv.py"),
    ("c", "c/edgekv.h", "lib/edgekv.h"),
    ("c", "c/edgekv.c", "lib/edgekv.c"),
];
const LANGUAGES: &[&str] = &["rust", "js", "python", "c"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest
        .join("../..")
        .canonicalize()
        .expect("the repository root");
    let mut table = String::from(
        "/// Every file `edgekv new` writes: (language, path in the app, is a template, bytes).\n",
    );
    table.push_str("pub static FILES: &[(&str, &str, bool, &[u8])] = &[\n");
    for lang in LANGUAGES {
        let root = repo.join("templates").join(lang);
        for file in files(&root) {
            let rel = relative(&root, &file);
            // Stored without the dot so that git and tools do not apply it inside this repository.
            let rel = if rel == "gitignore" {
                ".gitignore".to_string()
            } else {
                rel
            };
            entry(&mut table, lang, &rel, true, &file);
        }
        for file in files(&repo.join("wit")) {
            entry(
                &mut table,
                lang,
                &format!("wit/{}", relative(&repo.join("wit"), &file)),
                false,
                &file,
            );
        }
    }
    for (lang, from, to) in LIBRARIES {
        entry(
            &mut table,
            lang,
            to,
            false,
            &repo.join("guest-libs").join(from),
        );
    }
    table.push_str("];\n");
    println!(
        "cargo:rerun-if-changed={}",
        repo.join("templates").display()
    );
    println!("cargo:rerun-if-changed={}", repo.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        repo.join("guest-libs").display()
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("templates.rs");
    std::fs::write(out, table).expect("write templates.rs");
}

fn entry(table: &mut String, lang: &str, rel: &str, template: bool, file: &Path) {
    println!("cargo:rerun-if-changed={}", file.display());
    writeln!(
        table,
        "    ({lang:?}, {rel:?}, {template}, include_bytes!({:?})),",
        file.display().to_string()
    )
    .expect("write to a String");
}

/// Every file under `dir`, sorted, skipping build output a developer may have left there.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if matches!(
            name,
            "target" | "node_modules" | "build" | ".edgekv" | "__pycache__"
        ) {
            continue;
        }
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .expect("under root")
        .to_string_lossy()
        .replace('\\', "/")
}
