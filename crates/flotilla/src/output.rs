//! Writing a command's result to stdout: text for people, or exactly one JSON document.

use std::io::Write;

use crate::cli::{Format, Global};

/// A closed stdout (`flotilla runs | head`) is not worth a panic: the reader has what it wanted,
/// so write errors are ignored.
pub fn print(
    global: &Global,
    text: impl FnOnce() -> String,
    json: impl FnOnce() -> serde_json::Value,
) {
    let document = match global.format {
        Format::Text => text(),
        Format::Json => {
            serde_json::to_string_pretty(&json()).expect("JSON values serialise") + "\n"
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(document.as_bytes())
        .and_then(|()| stdout.flush());
}
