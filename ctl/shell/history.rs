//! Where the shell keeps its history: the XDG data directory, which holds
//! what a user's programs accumulate (`$XDG_DATA_HOME`, by default
//! `~/.local/share`).

use std::path::{Path, PathBuf};

/// The history file, its folder created; `None` when there is no home to
/// keep it in, or the folder cannot be made (the shell then keeps none).
pub(crate) fn file() -> Option<PathBuf> {
    let path = path(
        std::env::var_os("XDG_DATA_HOME").as_deref().map(Path::new),
        std::env::var_os("HOME").as_deref().map(Path::new),
    )?;
    std::fs::create_dir_all(path.parent()?).ok()?;
    Some(path)
}

/// `$XDG_DATA_HOME/reel/shell_history`, else
/// `$HOME/.local/share/reel/shell_history`. The XDG spec ignores a
/// relative `XDG_DATA_HOME`, and so do we.
fn path(xdg_data_home: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    let data = match (xdg_data_home, home) {
        (Some(xdg), _) if xdg.is_absolute() => xdg.to_path_buf(),
        (_, Some(home)) if home.is_absolute() => home.join(".local/share"),
        _ => return None,
    };
    Some(data.join("reel").join("shell_history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_first_then_home_then_none() {
        let p = |x: Option<&str>, h: Option<&str>| path(x.map(Path::new), h.map(Path::new));
        assert_eq!(
            p(Some("/x"), Some("/h")),
            Some(PathBuf::from("/x/reel/shell_history"))
        );
        assert_eq!(
            p(Some("rel"), Some("/h")),
            Some(PathBuf::from("/h/.local/share/reel/shell_history"))
        );
        assert_eq!(
            p(None, Some("/h")),
            Some(PathBuf::from("/h/.local/share/reel/shell_history"))
        );
        assert_eq!(p(None, Some("")), None);
        assert_eq!(p(None, None), None);
    }
}
