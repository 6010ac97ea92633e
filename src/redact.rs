//! Credentials taken out of URLs before driftgate shows them anywhere (logs, audit events, the
//! status API, metrics, traces, admission messages, CLI output).
//!
//! A URL keeps its scheme, host, port and path, so that people can still tell repositories apart;
//! its userinfo becomes [`MASK`] (`https://***@host/org/repo.git`), and the values of query or
//! fragment parameters whose names look like credentials (`token=`, `access_token=`, `sig=`,
//! `password=`, ...) become [`MASK`]. An SSH user name without a password (`git@host:org/repo`,
//! `ssh://git@host/org/repo`) names an account, not a secret, and stays. Every function here is
//! pure and idempotent: redacting twice gives the same text as redacting once.

use std::borrow::Cow;

/// What a credential is replaced with.
pub const MASK: &str = "***";

/// Shorter known secrets are not searched for in free text: masking every `ab` would garble
/// messages while hiding nothing a guesser would not find anyway.
const MIN_SECRET_LEN: usize = 4;

/// One location (a URL, an scp-like `user@host:path`, or a local path) with its credentials masked.
pub fn url(location: &str) -> String {
    match location.find("://") {
        Some(i) if is_scheme(&location[..i]) => with_scheme(&location[..i], &location[i + 3..]),
        _ => scp_like(location),
    }
}

/// Free text (an error message, a log line) with the credentials of every `scheme://` URL in it masked.
pub fn text(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("://") {
        let start = scheme_start(&rest[..i]);
        out.push_str(&rest[..start]);
        if start == i {
            out.push_str("://");
            rest = &rest[i + 3..];
            continue;
        }
        let mut end = rest[i + 3..].find(ends_url).map_or(rest.len(), |j| i + 3 + j);
        // URLs written back to back (`a://x,b://y`) are redacted one by one
        if let Some(k) = rest[i + 3..end].find("://") {
            end = i + 3 + scheme_start(&rest[i + 3..i + 3 + k]);
        }
        out.push_str(&with_scheme(&rest[start..i], &rest[i + 3..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Where the scheme that ends `before` begins (`before.len()` when there is none). A scheme
/// starts with a letter: in `1https://` the scheme is `https`.
fn scheme_start(before: &str) -> usize {
    let first = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .last()
        .map_or(before.len(), |(j, _)| j);
    before[first..].char_indices().find(|(_, c)| c.is_ascii_alphabetic()).map_or(before.len(), |(j, _)| first + j)
}

/// `message` with every occurrence of each known secret (of at least four characters) masked,
/// for texts that may quote a token outside any URL; then [`text`].
pub fn secrets<S: AsRef<str>>(message: &str, known: &[S]) -> String {
    let mut out = Cow::Borrowed(message);
    for secret in known.iter().map(AsRef::as_ref).filter(|s| s.len() >= MIN_SECRET_LEN) {
        if out.contains(secret) {
            out = Cow::Owned(out.replace(secret, MASK));
        }
    }
    text(&out)
}

/// The secrets a location carries in its userinfo, raw and percent-decoded, for [`secrets`]:
/// the password, or a user name alone (`https://TOKEN@host`) except over SSH, where it is an account.
pub fn userinfo_secrets(location: &str) -> Vec<String> {
    let (userinfo, ssh) = match location.find("://") {
        Some(i) => {
            let rest = &location[i + 3..];
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            (authority.rsplit_once('@').map(|(u, _)| u), is_ssh(&location[..i]))
        }
        None => (location.split_once('@').map(|(u, _)| u).filter(|u| !u.contains('/')), true),
    };
    let secret = match userinfo.map(|u| u.split_once(':')) {
        Some(Some((_, password))) => password,
        Some(None) if !ssh => userinfo.unwrap_or_default(),
        _ => return Vec::new(),
    };
    let mut out = vec![secret.to_owned()];
    let decoded = percent_decode(secret);
    if decoded != secret {
        out.push(decoded);
    }
    out.retain(|s| !s.is_empty());
    out
}

fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Where a URL inside free text ends: quotes and brackets that writers put around URLs, and space.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '`' | '<' | '>' | '\\')
}

fn is_ssh(scheme: &str) -> bool {
    matches!(scheme.to_ascii_lowercase().as_str(), "ssh" | "git+ssh" | "ssh+git")
}

/// `scheme` and what follows `://`, redacted.
fn with_scheme(scheme: &str, rest: &str) -> String {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) if is_ssh(scheme) && !user.contains(':') => format!("{user}@{host}"),
        Some((_, host)) => format!("{MASK}@{host}"),
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{}", parameters(tail))
}

/// `user@host:path` keeps a user name (git never reads a password there); `user:pass@host:path`
/// is masked. Anything else (a local path) is returned as it is.
fn scp_like(location: &str) -> String {
    let Some(at) = location.find('@') else { return location.to_owned() };
    let user = &location[..at];
    let host_and_path = &location[at + 1..];
    if user.contains('/') || !host_and_path.contains(':') || !user.contains(':') {
        return location.to_owned();
    }
    format!("{MASK}@{host_and_path}")
}

/// The path, query and fragment, with credential-like parameter values masked.
fn parameters(tail: &str) -> String {
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (tail, None),
    };
    let mut out = match before_fragment.split_once('?') {
        Some((path, query)) => format!("{path}?{}", pairs(query)),
        None => before_fragment.to_owned(),
    };
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(&pairs(f));
    }
    out
}

fn pairs(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, value)) if !value.is_empty() && is_credential(key) => {
                out.push_str(key);
                out.push('=');
                out.push_str(MASK);
            }
            _ => out.push_str(pair),
        }
    }
    out
}

/// Parameter names that are credentials themselves.
const SECRET_NAMES: &[&str] = &["sig", "key", "auth", "pass", "pwd", "code", "session", "sessionid", "apikey"];

/// Parts of parameter names that say the value is a credential (`access_token`, `X-Amz-Signature`).
const SECRET_NAME_PARTS: &[&str] =
    &["token", "secret", "passw", "signature", "credential", "authorization", "api_key", "access_key", "private_key"];

/// Parameter names that carry secrets in the URLs of Git hosts, object stores and OAuth.
fn is_credential(key: &str) -> bool {
    let key = percent_decode(key).to_ascii_lowercase().replace('-', "_");
    SECRET_NAMES.contains(&key.as_str()) || SECRET_NAME_PARTS.iter().any(|p| key.contains(p)) || key.ends_with("_sig")
}

/// `%XX` decoded; an invalid escape or non-UTF-8 result is kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_keep_what_tells_them_apart() {
        let table = [
            // userinfo with and without a password, in every scheme that can carry one
            ("https://user:TOKEN@git.example.com/org/repo.git", "https://***@git.example.com/org/repo.git"),
            ("https://TOKEN@github.com/org/repo", "https://***@github.com/org/repo"),
            ("http://user:pw@127.0.0.1:8080/org/repo", "http://***@127.0.0.1:8080/org/repo"),
            ("git://user:pw@git.example.com:9418/repo", "git://***@git.example.com:9418/repo"),
            ("HTTPS://oauth2:glpat-xyz@gitlab.com/g/p.git", "HTTPS://***@gitlab.com/g/p.git"),
            ("https://x-access-token:ghs_abc@github.com/o/r", "https://***@github.com/o/r"),
            // an '@' inside the password: the last '@' of the authority ends the userinfo
            ("https://user:p@ss@host/repo", "https://***@host/repo"),
            // percent-encoded tokens are masked whole
            ("https://user:PLANTED%2DTOKEN%40x@host/repo", "https://***@host/repo"),
            ("https://%74oken@host/repo", "https://***@host/repo"),
            // ssh: a bare user name stays, a password does not
            ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"),
            ("ssh://git:secret@github.com:2222/org/repo.git", "ssh://***@github.com:2222/org/repo.git"),
            ("git+ssh://git@host/repo", "git+ssh://git@host/repo"),
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            ("user:secret@host:org/repo.git", "***@host:org/repo.git"),
            // query and fragment parameters that look like credentials
            ("https://host/repo.git?private_token=abc&ref=main", "https://host/repo.git?private_token=***&ref=main"),
            ("https://host/r?access_token=abc", "https://host/r?access_token=***"),
            (
                "https://host/r?token=a&password=b&passwd=c&pwd=d",
                "https://host/r?token=***&password=***&passwd=***&pwd=***",
            ),
            (
                "https://acct.blob.core.windows.net/c/b?sv=2020&sig=abc%2Bdef",
                "https://acct.blob.core.windows.net/c/b?sv=2020&sig=***",
            ),
            (
                "https://s3/b/k?X-Amz-Signature=ab&X-Amz-Credential=cd&X-Amz-Security-Token=ef",
                "https://s3/b/k?X-Amz-Signature=***&X-Amz-Credential=***&X-Amz-Security-Token=***",
            ),
            (
                "https://host/r?client_secret=s&api_key=k&job-token=j",
                "https://host/r?client_secret=***&api_key=***&job-token=***",
            ),
            ("https://host/r?%74oken=abc", "https://host/r?%74oken=***"),
            ("https://host/cb#access_token=abc&state=x", "https://host/cb#access_token=***&state=x"),
            ("https://u:p@host/r?token=t", "https://***@host/r?token=***"),
            // nothing to hide: unchanged
            ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
            ("https://host:8443/org/repo?ref=main&depth=1", "https://host:8443/org/repo?ref=main&depth=1"),
            ("https://host/r?token=", "https://host/r?token="),
            ("https://host/users/@me/repo", "https://host/users/@me/repo"),
            ("file:///srv/git/repo", "file:///srv/git/repo"),
            ("/srv/git/repo", "/srv/git/repo"),
            ("gitops", "gitops"),
            ("", ""),
        ];
        for (input, want) in table {
            assert_eq!(url(input), want, "{input}");
            assert_eq!(url(want), want, "redacting is idempotent: {want}");
        }
    }

    #[test]
    fn urls_inside_free_text_are_redacted_where_they_stand() {
        let table = [
            (
                "https://user:TOKEN@host/org/repo.git: fetch failed: error sending request for url (https://user:TOKEN@host/org/repo.git/info/refs?service=git-upload-pack)",
                "https://***@host/org/repo.git: fetch failed: error sending request for url (https://***@host/org/repo.git/info/refs?service=git-upload-pack)",
            ),
            ("cannot reach \"http://t0k3n@127.0.0.1:9/x\"", "cannot reach \"http://***@127.0.0.1:9/x\""),
            ("remote 'ssh://git:pw@h/r' and <https://h/r?sig=abc>", "remote 'ssh://***@h/r' and <https://h/r?sig=***>"),
            ("two: git://a:b@h/x,https://c@h/y done", "two: git://***@h/x,https://***@h/y done"),
            ("escaped in Debug: \\\"https://u:p@h/r\\\"", "escaped in Debug: \\\"https://***@h/r\\\""),
            ("1https://u:p@h/r", "1https://***@h/r"),
            ("no url here: user:pass@example, a://", "no url here: user:pass@example, a://"),
            ("://u:p@h", "://u:p@h"),
            ("plain text", "plain text"),
            ("", ""),
        ];
        for (input, want) in table {
            assert_eq!(text(input), want, "{input}");
            assert_eq!(text(want), want, "idempotent: {want}");
        }
    }

    #[test]
    fn known_secrets_are_masked_anywhere_in_a_message() {
        let known = userinfo_secrets("https://user:PLANTED%2DTOKEN@host/repo");
        assert_eq!(known, vec!["PLANTED%2DTOKEN".to_owned(), "PLANTED-TOKEN".to_owned()]);
        let message = "auth failed for PLANTED-TOKEN (user: user), url https://user:PLANTED%2DTOKEN@host/repo";
        assert_eq!(secrets(message, &known), "auth failed for *** (user: user), url https://***@host/repo");
        assert_eq!(secrets("token abc and abcd", &["abc", "abcd"]), "token abc and ***", "short secrets are skipped");
        assert_eq!(userinfo_secrets("https://ghp_TOKEN@host/repo"), vec!["ghp_TOKEN".to_owned()]);
        assert!(userinfo_secrets("https://host/repo").is_empty());
        assert!(userinfo_secrets("https://host/users/@me").is_empty());
        assert!(userinfo_secrets("/srv/git/repo").is_empty());
        assert!(userinfo_secrets("ssh://deploy@host/repo").is_empty(), "an SSH user is an account");
        assert!(userinfo_secrets("deploy@host:org/repo").is_empty());
        assert_eq!(userinfo_secrets("deploy:pw12@host:org/repo"), vec!["pw12".to_owned()]);
    }
}
