//! How a failed command reports itself: one line that names what failed (our context, with the
//! path or host) and the cause, each said once, with no secret of the database URL in it.

/// `context: cause`, from the outermost context to the root cause.
///
/// Drivers repeat themselves: sqlx's database error shows the server's message and then, as its
/// source, the same message again (`role "x" does not exist at line 768: role "x" does not
/// exist at line 768`), and its configuration error wraps a URL error of the same text. So a
/// sqlx error is described by what a person needs (the server's message, the I/O error) and its
/// own sources are not followed, and a cause already said by the text before it is dropped.
pub fn one_line(err: &anyhow::Error, secrets: &[String]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let (text, last) = match cause.downcast_ref::<sqlx::Error>() {
            Some(sqlx_err) => (describe_sqlx(sqlx_err), true),
            None => (cause.to_string(), false),
        };
        let text = text.trim().to_owned();
        let said = parts.iter().any(|p| p.contains(&text));
        if !text.is_empty() && !said {
            parts.push(text);
        }
        if last {
            break;
        }
    }
    let mut line = parts.join(": ").replace('\n', " ");
    for secret in secrets {
        line = line.replace(secret.as_str(), "***");
    }
    line
}

fn describe_sqlx(err: &sqlx::Error) -> String {
    match err {
        // The server's own message, without the driver's prefix and source position.
        sqlx::Error::Database(db) => db.message().to_owned(),
        // "Connection refused (os error 111)", not "error communicating with database: …".
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Configuration(cause) => cause.to_string(),
        sqlx::Error::PoolTimedOut => {
            "no connection within the acquire timeout (SUPPORTDESK_DB_ACQUIRE_TIMEOUT)".to_owned()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_said_is_not_repeated() {
        let err = anyhow::anyhow!("invalid port number")
            .context("invalid port number")
            .context("invalid database URL postgres://h:x/db");
        assert_eq!(
            one_line(&err, &[]),
            "invalid database URL postgres://h:x/db: invalid port number"
        );
    }

    #[test]
    fn an_io_error_from_sqlx_is_named_plainly_and_secrets_are_masked() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = anyhow::Error::new(sqlx::Error::Io(io))
            .context("cannot connect to database postgres://u@h/db?password=hunter2");
        let line = one_line(&err, &["hunter2".to_owned()]);
        assert_eq!(
            line,
            "cannot connect to database postgres://u@h/db?password=***: connection refused"
        );
    }
}
