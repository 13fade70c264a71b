//! The README's Layout names every top-level folder and every script, so a newcomer's
//! map of the repository is never missing a part (it once left out scripts and docs).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What the README's Layout block says: the text inside its code fence.
fn layout() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap_or_default();
    readme
        .split("\n## Layout\n")
        .nth(1)
        .and_then(|s| s.split("```").nth(1))
        .unwrap_or_default()
        .to_string()
}

/// Names in `dir` (files or folders), less what .gitignore keeps out of the repository.
fn names(dir: &Path, folders: bool) -> Vec<String> {
    let ignored = ["target", "drill-output", ".venv", ".aws-sam", ".git"];
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir() == folders)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !ignored.contains(&n.as_str()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn the_readme_layout_names_every_top_level_folder_and_script() {
    let layout = layout();
    assert!(layout.lines().count() > 5, "no Layout block in the README");
    let folders = names(&root(), true);
    assert!(folders.contains(&"shared".to_string()), "{folders:?}");
    let missing: Vec<&String> = folders
        .iter()
        .filter(|f| !layout.contains(&format!("{f}/")))
        .collect();
    assert!(
        missing.is_empty(),
        "folders the Layout does not name: {missing:?}"
    );
    let scripts = names(&root().join("scripts"), false);
    assert!(scripts.len() > 3, "{scripts:?}");
    let missing: Vec<&String> = scripts
        .iter()
        .filter(|s| !layout.contains(s.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "scripts the Layout does not name: {missing:?}"
    );
}

/// Every text file under `dir`, recursively, less build output.
fn texts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() && !["target", "node_modules", ".aws-sam"].contains(&name.as_str()) {
            texts(&p, out);
        } else if [".rs", ".md", ".sh", ".py", ".yaml", ".toml", ".json"]
            .iter()
            .any(|x| name.ends_with(x))
        {
            out.push(p);
        }
    }
}

/// Issue numbers mean nothing to a reader of the repository: code and docs say what and
/// why instead.
#[test]
fn no_issue_numbers_in_code_or_docs() {
    let mut files = vec![root().join("README.md")];
    for d in [
        "shared",
        "cli",
        "drill",
        "functions",
        "tests",
        "infra",
        "scripts",
        "docs",
        ".ci",
    ] {
        texts(&root().join(d), &mut files);
    }
    assert!(files.len() > 100, "{}", files.len());
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let cited = lower.match_indices("issue").any(|(at, _)| {
                let rest = lower[at + 5..].trim_start_matches(['s', ' ', '#']);
                rest.starts_with(|c: char| c.is_ascii_digit())
            });
            if cited {
                found.push(format!("{}:{}", f.display(), i + 1));
            }
        }
    }
    assert!(found.is_empty(), "issue numbers: {found:?}");
}
