//! Splitting one file into its sections.
//!
//! The native format is dbmate's: `-- migrate:up` and `-- migrate:down` lines divide the file, and a
//! section line may carry options such as `transaction:false`. sqlx-style pair files hold one section
//! each and may start with sqlx's `-- no-transaction` marker. Anything unrecognised on a directive line
//! is refused, because a misspelt `transaction:flase` silently running in a transaction is worse than
//! an error.

use crate::checksum::normalise;

/// A section as written in a file, before it becomes part of a `Migration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSection {
    pub sql: String,
    pub transactional: bool,
    /// 1-based line of the first line of the section body.
    pub line: usize,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NativeFile {
    pub up: Option<RawSection>,
    pub down: Option<RawSection>,
}

/// A problem found in one file, with its 1-based line when it has one.
pub(crate) type LineError = (Option<usize>, String);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Up,
    Down,
    /// The body of a directive line that was refused; collected and dropped so one bad line
    /// produces one error rather than a cascade.
    Refused,
}

/// Parses a native migration file, collecting every problem in it.
pub(crate) fn parse_native(text: &str) -> Result<NativeFile, Vec<LineError>> {
    let text = normalise(text);
    let mut errors = Vec::new();
    let mut file = NativeFile::default();
    // (kind, transactional, first body line, body)
    let mut current: Option<(Kind, bool, usize, String)> = None;
    let mut stray_sql_line = None;

    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        match directive(line) {
            Some(rest) => {
                if let Some(section) = current.take() {
                    finish(&mut file, section);
                }
                match parse_directive(rest) {
                    Ok((kind, transactional)) => {
                        let seen = match kind {
                            Kind::Up => file.up.is_some(),
                            Kind::Down => file.down.is_some(),
                            Kind::Refused => false,
                        };
                        if seen {
                            errors.push((
                                Some(number),
                                format!("second `-- migrate:{}` section", name(kind)),
                            ));
                        } else if kind == Kind::Down && file.up.is_none() {
                            errors.push((
                                Some(number),
                                "`-- migrate:down` comes before `-- migrate:up`".into(),
                            ));
                        }
                        current = Some((kind, transactional, number + 1, String::new()));
                    }
                    Err(message) => {
                        errors.push((Some(number), message));
                        current = Some((Kind::Refused, true, number + 1, String::new()));
                    }
                }
            }
            None => match current.as_mut() {
                Some((_, _, _, body)) => body.push_str(line),
                None if is_blank_or_comment(line) => {}
                None => {
                    stray_sql_line.get_or_insert(number);
                }
            },
        }
    }
    if let Some(section) = current.take() {
        finish(&mut file, section);
    }
    let any_directive = file.up.is_some() || file.down.is_some() || !errors.is_empty();
    match stray_sql_line {
        Some(number) if any_directive => errors.push((
            Some(number),
            "SQL before the `-- migrate:up` line belongs to no section".into(),
        )),
        _ => {}
    }
    match &file.up {
        None if errors.is_empty() => errors.push((None, "missing `-- migrate:up` section".into())),
        Some(up) if is_empty_sql(&up.sql) => {
            errors.push((Some(up.line - 1), "the up section is empty".into()))
        }
        _ => {}
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

/// Parses one half of an sqlx-style pair (`.up.sql` or `.down.sql`).
pub(crate) fn parse_pair_half(text: &str, is_up: bool) -> Result<RawSection, Vec<LineError>> {
    let text = normalise(text);
    let mut errors = Vec::new();
    let mut transactional = true;
    for (index, line) in text.lines().enumerate() {
        if directive(line).is_some() {
            errors.push((
                Some(index + 1),
                "`-- migrate:` directives belong in native files (<version>_<name>.sql), not in .up.sql/.down.sql pairs"
                    .into(),
            ));
        }
        if index == 0 && line.trim() == "-- no-transaction" {
            transactional = false;
        }
    }
    if is_up && is_empty_sql(&text) {
        errors.push((None, "the up file is empty".into()));
    }
    if errors.is_empty() {
        Ok(RawSection {
            sql: text,
            transactional,
            line: 1,
        })
    } else {
        Err(errors)
    }
}

fn finish(file: &mut NativeFile, (kind, transactional, line, sql): (Kind, bool, usize, String)) {
    let section = RawSection {
        sql,
        transactional,
        line,
    };
    match kind {
        Kind::Up if file.up.is_none() => file.up = Some(section),
        // An empty down section means "no way back", exactly like a missing one.
        Kind::Down if file.down.is_none() && !is_empty_sql(&section.sql) => {
            file.down = Some(section)
        }
        _ => {}
    }
}

/// The text after `migrate:` when `line` is a directive line (`-- migrate:...`).
fn directive(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("--")?;
    rest.trim_start().strip_prefix("migrate:")
}

fn parse_directive(rest: &str) -> Result<(Kind, bool), String> {
    let mut words = rest.split_whitespace();
    let kind = match words.next() {
        Some("up") => Kind::Up,
        Some("down") => Kind::Down,
        Some(other) => {
            return Err(format!(
                "unknown directive `-- migrate:{other}` (expected `-- migrate:up` or `-- migrate:down`)"
            ));
        }
        None => return Err("empty `-- migrate:` directive".into()),
    };
    let mut transactional = true;
    for option in words {
        match option {
            "transaction:false" => transactional = false,
            "transaction:true" => transactional = true,
            other => {
                return Err(format!(
                    "unknown option `{other}` on `-- migrate:{}` (known: transaction:true, transaction:false)",
                    name(kind)
                ));
            }
        }
    }
    Ok((kind, transactional))
}

fn name(kind: Kind) -> &'static str {
    match kind {
        Kind::Up => "up",
        Kind::Down => "down",
        Kind::Refused => "?",
    }
}

fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with("--")
}

/// True when a section holds nothing but whitespace and `--` comments.
pub(crate) fn is_empty_sql(sql: &str) -> bool {
    sql.lines().all(is_blank_or_comment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_up_and_down() {
        let file = parse_native(
            "-- migrate:up\nCREATE TABLE a (id int);\n\n-- migrate:down\nDROP TABLE a;\n",
        )
        .unwrap();
        let up = file.up.unwrap();
        assert_eq!(up.sql, "CREATE TABLE a (id int);\n\n");
        assert_eq!(up.line, 2);
        assert!(up.transactional);
        assert_eq!(file.down.unwrap().sql, "DROP TABLE a;\n");
    }

    #[test]
    fn transaction_false_is_read() {
        let file = parse_native("-- migrate:up transaction:false\nVACUUM;\n").unwrap();
        assert!(!file.up.unwrap().transactional);
        assert!(file.down.is_none());
    }

    #[test]
    fn empty_down_means_irreversible() {
        let file =
            parse_native("-- migrate:up\nSELECT 1;\n-- migrate:down\n\n-- nothing\n").unwrap();
        assert!(file.down.is_none());
    }

    #[test]
    fn refuses_unknown_directives_and_options() {
        let errors =
            parse_native("-- migrate:up transaction:flase\nSELECT 1;\n-- migrate:sideways\n")
                .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].0, Some(1));
        assert!(errors[0].1.contains("transaction:flase"));
        assert_eq!(errors[1].0, Some(3));
        assert!(errors[1].1.contains("migrate:sideways"));
    }

    #[test]
    fn refuses_missing_and_empty_up() {
        let missing = parse_native("CREATE TABLE a (id int);\n").unwrap_err();
        assert_eq!(
            missing,
            vec![(None, "missing `-- migrate:up` section".to_string())]
        );
        let stray =
            parse_native("CREATE TABLE a (id int);\n-- migrate:up\nSELECT 1;\n").unwrap_err();
        assert_eq!(
            stray,
            vec![(
                Some(1),
                "SQL before the `-- migrate:up` line belongs to no section".to_string()
            )]
        );
        let none = parse_native("-- just a comment\n").unwrap_err();
        assert_eq!(
            none,
            vec![(None, "missing `-- migrate:up` section".to_string())]
        );
        let empty = parse_native("-- migrate:up\n\n-- migrate:down\nDROP TABLE a;\n").unwrap_err();
        assert_eq!(
            empty,
            vec![(Some(1), "the up section is empty".to_string())]
        );
    }

    #[test]
    fn refuses_duplicate_and_misordered_sections() {
        let errors = parse_native(
            "-- migrate:down\nDROP TABLE a;\n-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n",
        )
        .unwrap_err();
        assert!(
            errors
                .iter()
                .any(|(l, m)| *l == Some(1) && m.contains("before")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|(l, m)| *l == Some(5) && m.contains("second")),
            "{errors:?}"
        );
    }

    #[test]
    fn pair_halves() {
        let up = parse_pair_half("-- no-transaction\nVACUUM;\n", true).unwrap();
        assert!(!up.transactional);
        assert!(parse_pair_half("\n", true).is_err());
        assert!(parse_pair_half("-- migrate:up\nSELECT 1;\n", true).is_err());
    }
}
