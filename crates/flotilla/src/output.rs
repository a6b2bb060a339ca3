//! Writing a command's result to stdout: text for people, or exactly one JSON document.

use crate::cli::{Format, Global};

pub fn print(
    global: &Global,
    text: impl FnOnce() -> String,
    json: impl FnOnce() -> serde_json::Value,
) {
    match global.format {
        Format::Text => print!("{}", text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json()).expect("JSON values serialise")
        ),
    }
}
