//! Reading server-sent events (the format of `GET /api/v1/events`), line by line.

/// Collects an SSE message's `event:` and `data:` lines until the blank line that ends it.
#[derive(Debug, Default)]
pub struct SseReader {
    event: String,
    data: String,
}

impl SseReader {
    /// Takes one line (without its newline); returns `(event, data)` when a message ends.
    pub fn line(&mut self, line: &str) -> Option<(String, String)> {
        if line.is_empty() {
            let message =
                (!self.data.is_empty()).then(|| (std::mem::take(&mut self.event), std::mem::take(&mut self.data)));
            self.event.clear();
            return message;
        }
        if let Some(v) = line.strip_prefix("event:") {
            v.trim_start().clone_into(&mut self.event);
        } else if let Some(v) = line.strip_prefix("data:") {
            if !self.data.is_empty() {
                self.data.push('\n');
            }
            self.data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_end_at_a_blank_line() {
        let mut r = SseReader::default();
        let text =
            ": keep-alive\n\nid: 1\nevent: dev.driftgate.drift.detected\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n";
        let got: Vec<_> = text.lines().filter_map(|l| r.line(l)).collect();
        assert_eq!(
            got,
            [("dev.driftgate.drift.detected".to_owned(), "{\"a\":1}".to_owned()), (String::new(), "x\ny".to_owned())]
        );
    }
}
