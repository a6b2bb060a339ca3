//! `${VAR}` interpolation from the environment. A variable that is not set is an error, never an
//! empty string: an empty password or host would produce a confusing connection failure far from
//! the real cause.

/// Replaces every `${NAME}` in `text` using `lookup`; the error names the first missing variable or
/// describes the malformed reference.
pub(crate) fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated `${{` in {text:?}"));
        };
        let name = &after[..end];
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("invalid variable name `${{{name}}}`"));
        }
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "PW").then(|| "hunter2".to_string())
    }

    #[test]
    fn replaces_and_refuses() {
        assert_eq!(
            interpolate("mysql://a:${PW}@h/db", &env).unwrap(),
            "mysql://a:hunter2@h/db"
        );
        assert_eq!(interpolate("plain", &env).unwrap(), "plain");
        assert!(
            interpolate("${MISSING}", &env)
                .unwrap_err()
                .contains("MISSING is not set")
        );
        assert!(
            interpolate("${PW", &env)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(interpolate("${1X}", &env).unwrap_err().contains("invalid"));
    }
}
