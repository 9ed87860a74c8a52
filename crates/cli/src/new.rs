//! `edgekv new`: writes a new guest app from the templates embedded in the binary (built from
//! `templates/<lang>/`, `wit/` and `guest-libs/<lang>/` by build.rs), so the app builds against
//! the `wit/` of this edgekv version without the repository. Every template is the same small app:
//! `GET /` counts visits in KV, `GET/PUT/DELETE /kv/{key}` reads and writes entries.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// The file `edgekv new` writes into every app: its name and language, for `edgekv dev`.
pub const MARKER: &str = "edgekv-app.toml";

/// A guest language with a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Rust (cargo, wasm32-wasip2) with the edgekv-guest crate.
    Rust,
    /// JavaScript (componentize-js) with edgekv.js, the Workers KV binding's API.
    Js,
    /// Python (componentize-py) with edgekv.py.
    Python,
    /// C (clang, wasi-libc, wit-bindgen) with edgekv.h.
    C,
}

impl Lang {
    /// The name `--lang` and the marker file spell.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
            Lang::C => "c",
        }
    }

    /// The files and folders of an app in this language that its build reads (what `edgekv dev`
    /// watches).
    pub fn sources(self) -> &'static [&'static str] {
        match self {
            Lang::Rust => &["src", "edgekv-guest", "wit", "Cargo.toml", "build.sh"],
            Lang::Js => &[
                "src",
                "lib",
                "wit",
                "package.json",
                "package-lock.json",
                "build.sh",
            ],
            Lang::Python => &["app.py", "edgekv.py", "wit", "build.sh"],
            Lang::C => &["src", "lib", "wit", "build.sh"],
        }
    }
}

/// What `edgekv new` writes into an app's `edgekv-app.toml`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct AppMarker {
    /// The app's name (its folder's name when made).
    pub name: String,
    /// The language its build uses.
    pub lang: Lang,
    /// The edgekv version whose `wit/` and guest library the app was made with.
    pub edgekv: String,
}

impl AppMarker {
    /// Reads `DIR/edgekv-app.toml`.
    pub fn read(dir: &Path) -> Result<AppMarker> {
        let path = dir.join(MARKER);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not an edgekv app folder (no {MARKER}; make one with `edgekv new --lang rust NAME`)",
                dir.display()
            )
        })?;
        toml::from_str(&text).with_context(|| format!("{}", path.display()))
    }
}

/// The command line of `edgekv new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The guest language.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// The folder to create (it must not exist, or be empty); its last part names the app.
    pub name: PathBuf,
}

/// Writes the app and says how to run it.
pub fn run(args: NewArgs) -> Result<()> {
    let name = app_name(&args.name)?;
    create(&args.name, &name, args.lang)?;
    println!(
        "created {} ({} guest app {name})",
        args.name.display(),
        args.lang.name()
    );
    println!("next:\n  cd {}\n  edgekv dev", args.name.display());
    Ok(())
}

/// The app's name: the folder's last part, which templates put in strings and package names.
fn app_name(dir: &Path) -> Result<String> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "app name {name:?} (the folder's last part) must start with a letter and have only letters, digits, '-' and '_'"
        );
    }
    Ok(name.to_string())
}

/// Writes every file of `lang`'s template into `dir`, which must not exist or be empty.
pub fn create(dir: &Path, name: &str, lang: Lang) -> Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("{} exists and is not a folder", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} already exists and is not empty: choose another name, or remove it first",
                dir.display()
            );
        }
    }
    let crate_name = name.to_ascii_lowercase().replace('_', "-");
    for (file_lang, rel, template, bytes) in embedded::FILES.iter().filter(|f| f.0 == lang.name()) {
        debug_assert_eq!(*file_lang, lang.name());
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create {}", parent.display()))?;
        }
        let contents = render(rel, *template, bytes, name, &crate_name);
        std::fs::write(&path, contents).with_context(|| format!("write {}", path.display()))?;
        if rel.ends_with(".sh") {
            make_executable(&path)?;
        }
    }
    let marker = AppMarker {
        name: name.to_string(),
        lang,
        edgekv: env!("CARGO_PKG_VERSION").to_string(),
    };
    let text = format!(
        "# Written by `edgekv new`; `edgekv dev` reads it.\n{}",
        toml::to_string(&marker)?
    );
    std::fs::write(dir.join(MARKER), text)
        .with_context(|| format!("write {}", dir.join(MARKER).display()))?;
    Ok(())
}

/// A file's contents in the new app: templates get the app's names; the Rust library finds the
/// app's `wit/` one level up instead of the repository's two, and joins the app's workspace
/// instead of being a workspace of its own.
fn render(rel: &str, template: bool, bytes: &[u8], name: &str, crate_name: &str) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    if template {
        text.replace("{{name}}", name)
            .replace("{{crate}}", crate_name)
            .into_bytes()
    } else if rel == "edgekv-guest/src/lib.rs" {
        text.replace("path: \"../../wit\"", "path: \"../wit\"")
            .into_bytes()
    } else if rel == "edgekv-guest/Cargo.toml" {
        let own_workspace = text
            .find("\n# Not a member")
            .or_else(|| text.find("\n[workspace]"));
        own_workspace
            .map_or(text, |at| &text[..=at])
            .as_bytes()
            .to_vec()
    } else {
        bytes.to_vec()
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_its_template_wit_and_library() {
        for lang in [Lang::Rust, Lang::Js, Lang::Python, Lang::C] {
            let files: Vec<&str> = embedded::FILES
                .iter()
                .filter(|f| f.0 == lang.name())
                .map(|f| f.1)
                .collect();
            for needed in ["build.sh", "README.md", ".gitignore", "wit/edgekv.wit"] {
                assert!(files.contains(&needed), "{}: no {needed}", lang.name());
            }
            assert!(
                files.iter().any(|f| f.contains("edgekv")),
                "{}: no guest library",
                lang.name()
            );
        }
    }

    #[test]
    fn names_that_cannot_be_an_app_are_refused() {
        assert!(app_name(Path::new("hello-app")).is_ok());
        assert!(app_name(Path::new("some/dir/hello_2")).is_ok());
        for bad in ["", "2x", "a b", "a\"b", "-x", "é"] {
            assert!(app_name(Path::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_rust_library_joins_the_app_and_its_wit() {
        let lib = embedded::FILES
            .iter()
            .find(|f| f.0 == "rust" && f.1 == "edgekv-guest/src/lib.rs")
            .expect("lib.rs");
        let text = String::from_utf8(render(lib.1, lib.2, lib.3, "x", "x")).expect("utf-8");
        assert!(text.contains("path: \"../wit\""));
        let manifest = embedded::FILES
            .iter()
            .find(|f| f.0 == "rust" && f.1 == "edgekv-guest/Cargo.toml")
            .expect("Cargo.toml");
        let text =
            String::from_utf8(render(manifest.1, manifest.2, manifest.3, "x", "x")).expect("utf-8");
        assert!(
            text.contains("[dependencies]") && !text.contains("[workspace]"),
            "{text}"
        );
    }

    #[test]
    fn a_non_empty_folder_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("keep"), "x").expect("write");
        let err = create(dir.path(), "x", Lang::C).expect_err("refused");
        assert!(err.to_string().contains("not empty"), "{err}");
        assert!(!dir.path().join("build.sh").exists());
    }
}
