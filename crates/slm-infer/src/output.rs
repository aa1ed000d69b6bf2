//! Turns decoded text chunks into the deltas a client sees: stop sequences
//! matched across token boundaries, and post-processing of the finished text.
//!
//! Post-processing rules (the concatenated deltas always equal the final
//! `Completion::text`, so streaming and non-streaming clients agree):
//! - text at and after a stop sequence is dropped, the stop sequence included;
//!   text that might be the start of a stop sequence is held back until it
//!   is known not to be;
//! - whitespace at the end of the completion is trimmed (trailing whitespace
//!   is held back until non-whitespace follows), and runs of three or more
//!   line breaks become one blank line;
//! - with `trim_to_sentence`, text after the last sentence end (`.`, `!`,
//!   `?`, optionally followed by closing quotes or brackets) is held back and
//!   dropped if generation stops by length; if the completion has no
//!   sentence end at all, it is kept whole rather than emptied.

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// End-of-text token or a stop sequence.
    Stop,
    /// `max_tokens` or the end of the model's context.
    Length,
    /// Cancelled by the client, a dropped stream or engine shutdown.
    Cancelled,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Cancelled => "cancelled",
        }
    }
}

/// Stop-sequence matching and clean-up for one completion.
#[derive(Debug, Clone)]
pub struct OutputFilter {
    stops: Vec<String>,
    trim_to_sentence: bool,
    /// Generated text so far (cut at a stop sequence once found).
    text: String,
    /// Bytes of `text` already emitted.
    emitted: usize,
    /// Everything emitted, after clean-up.
    out: String,
    stopped: bool,
}

impl OutputFilter {
    pub fn new(stops: Vec<String>, trim_to_sentence: bool) -> OutputFilter {
        OutputFilter {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            trim_to_sentence,
            text: String::new(),
            emitted: 0,
            out: String::new(),
            stopped: false,
        }
    }

    /// Adds decoded text; returns the delta that is safe to emit now and
    /// whether a stop sequence was hit (then the delta is final).
    pub fn push(&mut self, chunk: &str) -> (String, bool) {
        if self.stopped {
            return (String::new(), true);
        }
        self.text.push_str(chunk);
        if let Some(at) = self.find_stop() {
            self.text.truncate(at);
            self.stopped = true;
            return (self.finish(FinishReason::Stop), true);
        }
        let mut safe = self.text.len() - self.stop_prefix_len();
        // Hold back trailing whitespace: it is trimmed if nothing follows.
        safe = self.emitted.max(trim_end_len(&self.text[..safe]));
        if self.trim_to_sentence {
            let s = last_sentence_end(&self.text[..safe]).unwrap_or(0);
            safe = self.emitted.max(s);
        }
        (self.emit_to(safe), false)
    }

    /// The remaining delta when generation ends for `reason`.
    pub fn finish(&mut self, reason: FinishReason) -> String {
        let mut end = trim_end_len(&self.text);
        if self.trim_to_sentence
            && reason == FinishReason::Length
            && let Some(s) = last_sentence_end(&self.text[..end])
        {
            end = trim_end_len(&self.text[..s]);
        }
        self.emit_to(self.emitted.max(end))
    }

    /// Everything emitted so far (the completion text once finished).
    pub fn emitted_text(&self) -> &str {
        &self.out
    }

    fn emit_to(&mut self, end: usize) -> String {
        if end <= self.emitted {
            return String::new();
        }
        let delta = collapse_blank_lines(&self.text[self.emitted..end]);
        self.emitted = end;
        self.out.push_str(&delta);
        delta
    }

    fn find_stop(&self) -> Option<usize> {
        // A stop cannot start inside already emitted text: that text was
        // released only once it could no longer begin one.
        let hay = &self.text[self.emitted..];
        self.stops
            .iter()
            .filter_map(|s| hay.find(s.as_str()))
            .min()
            .map(|i| self.emitted + i)
    }

    /// Length of the longest suffix of the unemitted text that is a proper
    /// prefix of some stop sequence.
    fn stop_prefix_len(&self) -> usize {
        let tail = &self.text[self.emitted..];
        let mut best = 0;
        for s in &self.stops {
            for (i, _) in s.char_indices().skip(1) {
                if i > best && tail.ends_with(&s[..i]) {
                    best = i;
                }
            }
        }
        best
    }
}

/// Byte length of `s` without trailing whitespace.
fn trim_end_len(s: &str) -> usize {
    s.trim_end().len()
}

/// Byte offset just after the last sentence end in `s`.
fn last_sentence_end(s: &str) -> Option<usize> {
    let mut end = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?') {
            let mut e = i + c.len_utf8();
            while let Some(&(j, n)) = chars.peek() {
                if matches!(n, '"' | '\'' | '”' | '’' | ')' | ']' | '.' | '!' | '?') {
                    e = j + n.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            end = Some(e);
        }
    }
    end
}

/// Replaces whitespace runs holding three or more line breaks by "\n\n".
fn collapse_blank_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.matches('\n').count() >= 3 {
            out.push_str("\n\n");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_whitespace() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(chunks: &[&str], stops: &[&str], trim: bool, reason: FinishReason) -> (String, bool) {
        let mut f = OutputFilter::new(stops.iter().map(|s| s.to_string()).collect(), trim);
        let mut all = String::new();
        for c in chunks {
            let (d, stop) = f.push(c);
            all.push_str(&d);
            if stop {
                assert_eq!(all, f.emitted_text());
                return (all, true);
            }
        }
        all.push_str(&f.finish(reason));
        assert_eq!(all, f.emitted_text());
        (all, false)
    }

    #[test]
    fn stop_sequence_split_across_chunks_is_not_emitted() {
        let (text, stopped) = run(
            &["Once upon", " a time. The", " E", "N", "D and more"],
            &["THE END", "END"],
            false,
            FinishReason::Length,
        );
        assert!(stopped);
        assert_eq!(text, "Once upon a time. The");
    }

    #[test]
    fn partial_stop_prefix_is_held_then_released() {
        let mut f = OutputFilter::new(vec!["\n\nUser:".into()], false);
        let (d1, _) = f.push("Hi there\n\nUs");
        assert_eq!(d1, "Hi there");
        let (d2, s) = f.push("ually not.");
        assert!(!s);
        assert_eq!(d2, "\n\nUsually not.");
    }

    #[test]
    fn trailing_whitespace_is_trimmed_and_blank_lines_collapsed() {
        let (text, _) = run(&["A.\n\n\n\nB  ", " \n"], &[], false, FinishReason::Stop);
        assert_eq!(text, "A.\n\nB");
    }

    #[test]
    fn trim_to_sentence_cuts_only_on_length() {
        let chunks = ["He ran. She", " laughed! Then the"];
        let (text, _) = run(&chunks, &[], true, FinishReason::Length);
        assert_eq!(text, "He ran. She laughed!");
        let (text, _) = run(&chunks, &[], true, FinishReason::Stop);
        assert_eq!(text, "He ran. She laughed! Then the");
        let (text, _) = run(&["\"Yes.\" said"], &[], true, FinishReason::Length);
        assert_eq!(text, "\"Yes.\"");
        let (text, _) = run(&["no sentence end"], &[], true, FinishReason::Length);
        assert_eq!(text, "no sentence end");
    }

    proptest! {
        #[test]
        fn output_never_contains_a_stop_and_is_a_prefix_of_the_text(
            pieces in proptest::collection::vec("[ab .\n]{0,4}", 0..20),
            stop in "[ab.]{1,3}",
        ) {
            let chunks: Vec<&str> = pieces.iter().map(|s| s.as_str()).collect();
            let (text, stopped) = run(&chunks, &[&stop], false, FinishReason::Length);
            let full: String = pieces.concat();
            prop_assert!(!text.contains(&stop));
            prop_assert_eq!(stopped, full.contains(&stop));
            let expect = match full.find(&stop) { Some(i) => &full[..i], None => &full[..] };
            prop_assert_eq!(text, collapse_blank_lines(expect.trim_end()));
        }
    }
}
