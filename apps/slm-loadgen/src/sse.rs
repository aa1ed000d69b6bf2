//! Server-Sent Events, as far as our API uses them: `data:` lines joined
//! into one event per blank line; comments (`: keep-alive`) and other fields
//! ignored.

use std::io::{self, BufRead};

/// Feeds one SSE line (line ending already removed) into the event being
/// assembled in `data`. Returns the event's data when this line completes
/// it: a blank line after at least one `data:` line. Multi-line data is
/// joined with `\n`; one space after `data:` is dropped.
pub fn sse_line(line: &str, data: &mut Option<String>) -> Option<String> {
    if line.is_empty() {
        return data.take();
    }
    if let Some(d) = line.strip_prefix("data:") {
        let d = d.strip_prefix(' ').unwrap_or(d);
        match data {
            Some(existing) => {
                existing.push('\n');
                existing.push_str(d);
            }
            None => *data = Some(d.to_string()),
        }
    }
    // `:` comments and the `event:`, `id:`, `retry:` fields are not used by our API.
    None
}

/// The next event's data from a streamed body, or `None` at the end of the
/// stream (an event cut short by the end is still returned).
pub fn next_data(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut data = None;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(data);
        }
        if let Some(event) = sse_line(line.trim_end_matches(['\r', '\n']), &mut data) {
            return Ok(Some(event));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_make_events() {
        let mut data = None;
        assert_eq!(sse_line(": keep-alive", &mut data), None);
        assert_eq!(sse_line("", &mut data), None, "a comment is no event");
        assert_eq!(sse_line("data: line1", &mut data), None);
        assert_eq!(sse_line("data:line2", &mut data), None);
        assert_eq!(sse_line("event: ignored", &mut data), None);
        assert_eq!(sse_line("", &mut data), Some("line1\nline2".into()));
        assert_eq!(data, None);
        assert_eq!(sse_line("data: ", &mut data), None);
        assert_eq!(sse_line("", &mut data), Some(String::new()));
    }

    #[test]
    fn a_stream_splits_into_events() {
        let text =
            ": keep-alive\r\n\r\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n: ping\n\ndata: [DONE]\n\n";
        let mut r = text.as_bytes();
        assert_eq!(next_data(&mut r).unwrap(), Some("{\"a\":1}".into()));
        assert_eq!(next_data(&mut r).unwrap(), Some("x\ny".into()));
        assert_eq!(next_data(&mut r).unwrap(), Some("[DONE]".into()));
        assert_eq!(next_data(&mut r).unwrap(), None);
        // An event without its closing blank line still counts at the end.
        assert_eq!(
            next_data(&mut "data: cut".as_bytes()).unwrap(),
            Some("cut".into())
        );
    }
}
