//! Small, careful pieces of SQL text: quoting identifiers and literals, and finding where a
//! migration's statements end. Identifiers (schema names above all) come from fleet files and
//! discovery, so they are always quoted, never spliced.

use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

/// A PostgreSQL identifier in double quotes, inner quotes doubled.
pub(crate) fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A MySQL identifier in backticks, inner backticks doubled.
pub(crate) fn my_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A standard SQL string literal, inner quotes doubled. PostgreSQL sessions run with
/// `standard_conforming_strings = on`, so backslashes are plain characters there.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A MySQL string literal: quotes doubled and backslashes escaped, as MySQL treats `\` as an escape.
pub(crate) fn my_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Which grammar to tokenize with.
#[derive(Clone, Copy)]
pub(crate) enum Grammar {
    Postgres,
    MySql,
}

fn dialect(grammar: Grammar) -> Box<dyn Dialect> {
    match grammar {
        Grammar::Postgres => Box::new(PostgreSqlDialect {}),
        Grammar::MySql => Box::new(MySqlDialect {}),
    }
}

/// True when the last significant token of `sql` is a `;`, so more statements can follow it
/// directly. Comments, strings and dollar-quoted bodies are tokens, not text, so a `;` inside them
/// does not count. SQL the tokenizer cannot read is treated as unterminated.
pub(crate) fn ends_with_semicolon(sql: &str, grammar: Grammar) -> bool {
    let dialect = dialect(grammar);
    match Tokenizer::new(dialect.as_ref(), sql).tokenize() {
        Ok(tokens) => {
            tokens
                .iter()
                .rev()
                .find(|t| !matches!(t, Token::Whitespace(_)))
                == Some(&Token::SemiColon)
        }
        Err(_) => false,
    }
}

/// Splits `sql` into its statements at top-level semicolons, for statements that must each be
/// sent on their own (PostgreSQL runs a multi-statement message in one implicit transaction, which
/// `CREATE INDEX CONCURRENTLY` refuses). Strings, quoted identifiers, comments and dollar-quoted
/// bodies are respected; statements holding only comments are dropped.
pub(crate) fn split_statements(sql: &str, grammar: Grammar) -> Result<Vec<String>, String> {
    let dialect = dialect(grammar);
    let tokens = Tokenizer::new(dialect.as_ref(), sql)
        .tokenize()
        .map_err(|e| e.to_string())?;
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut significant = false;
    for token in tokens {
        match token {
            Token::SemiColon => {
                if significant {
                    statements.push(current.trim().to_string());
                }
                current.clear();
                significant = false;
            }
            Token::Whitespace(
                Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_),
            ) => {
                current.push_str(&token.to_string());
            }
            Token::Whitespace(_) => current.push_str(&token.to_string()),
            other => {
                significant = true;
                current.push_str(&other.to_string());
            }
        }
    }
    if significant {
        statements.push(current.trim().to_string());
    }
    Ok(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_neutralises_hostile_names() {
        assert_eq!(
            pg_ident(r#"x"; DROP TABLE users; --"#),
            r#""x""; DROP TABLE users; --""#
        );
        assert_eq!(my_ident("a`b"), "`a``b`");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(my_literal(r"a\'"), r"'a\\'''");
    }

    #[test]
    fn statements_split_outside_strings_comments_and_dollar_quotes() {
        let sql = "CREATE INDEX CONCURRENTLY a ON t (x);\n-- a comment; with a semicolon\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nINSERT INTO t VALUES ('a;b');\n-- trailing comment\n";
        let statements = split_statements(sql, Grammar::Postgres).unwrap();
        assert_eq!(statements.len(), 3, "{statements:#?}");
        assert!(statements[1].contains("$$ SELECT 1; $$"));
        assert!(statements[2].ends_with("('a;b')"));
    }

    #[test]
    fn a_final_comment_does_not_hide_the_last_semicolon() {
        assert!(ends_with_semicolon("SELECT 1; -- done\n", Grammar::MySql));
        assert!(!ends_with_semicolon(
            "SELECT 1 -- no semicolon\n",
            Grammar::MySql
        ));
        assert!(!ends_with_semicolon("SELECT ';'", Grammar::Postgres));
    }
}
