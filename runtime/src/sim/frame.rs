//! De-framing of user outputs the way the engine reads them.
//!
//! The engine reads each user's SOCK_STREAM socket in `read()`s of up to
//! 128 KiB and splits the bytes into messages of a 4-byte big-endian length
//! plus payload, carrying a partial payload over to the next read
//! (`sc.cpp read_contract_fdmap_outputs`). It assumes a length header never
//! straddles two reads: it indexes past the end of its buffer when one does,
//! which mis-frames the rest of that user's outputs (or aborts the engine).
//! This de-framer handles a split header correctly, so the report still shows
//! what the contract meant, and reports the split so it can be flagged.
//! Input bytes are outside data: nothing here can panic on them.

/// One user's output stream, de-framed read by read.
#[derive(Debug, Default)]
pub(crate) struct Deframer {
    /// Completed messages (and, at the end, a partial last one).
    messages: Vec<Vec<u8>>,
    /// The message being filled: expected length and bytes so far.
    current: Option<(u32, Vec<u8>)>,
    /// Header bytes received so far when a read ended inside a header.
    header: Vec<u8>,
    /// Raw bytes fed so far (headers included), as the engine counts them.
    total: u64,
}

/// What [`Deframer::finish`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Deframed {
    pub(crate) messages: Vec<Vec<u8>>,
    /// The last message was cut short: (declared length, bytes received).
    /// The engine still delivers it as an output.
    pub(crate) incomplete: Option<(u32, usize)>,
    /// 1–3 bytes of a header with nothing after it (the engine would
    /// mis-frame these; they are not a message).
    pub(crate) dangling_header: usize,
}

impl Deframer {
    /// Feeds the bytes of one `read()`. Returns `Some(index)` when this read
    /// ended inside the length header of message `index`, the case the
    /// engine gets wrong.
    pub(crate) fn feed(&mut self, mut chunk: &[u8]) -> Option<usize> {
        self.total += chunk.len() as u64;
        while !chunk.is_empty() {
            if let Some((len, buf)) = &mut self.current {
                let want = (*len as usize).saturating_sub(buf.len());
                let take = want.min(chunk.len());
                // `take <= chunk.len()`, so the split cannot fail.
                let (head, rest) = chunk.split_at(take);
                buf.extend_from_slice(head);
                chunk = rest;
                if buf.len() == *len as usize
                    && let Some((_, done)) = self.current.take()
                {
                    self.messages.push(done);
                }
                continue;
            }
            let need = 4 - self.header.len();
            let take = need.min(chunk.len());
            let (head, rest) = chunk.split_at(take);
            self.header.extend_from_slice(head);
            chunk = rest;
            if let Ok(bytes) = <[u8; 4]>::try_from(self.header.as_slice()) {
                let len = u32::from_be_bytes(bytes);
                self.header.clear();
                if len == 0 {
                    self.messages.push(Vec::new());
                } else {
                    self.current = Some((len, Vec::new()));
                }
            }
        }
        (!self.header.is_empty()).then_some(self.messages.len())
    }

    /// Raw bytes read so far (headers included).
    pub(crate) fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Ends the stream.
    pub(crate) fn finish(mut self) -> Deframed {
        let mut incomplete = None;
        if let Some((len, buf)) = self.current.take() {
            incomplete = Some((len, buf.len()));
            self.messages.push(buf);
        }
        Deframed {
            messages: self.messages,
            incomplete,
            dangling_header: self.header.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(msgs: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for m in msgs {
            v.extend_from_slice(&(m.len() as u32).to_be_bytes());
            v.extend_from_slice(m);
        }
        v
    }

    #[test]
    fn whole_and_split_payloads() {
        let bytes = frame(&[b"hello", b"", b"world!"]);
        for cut in 0..=bytes.len() {
            let mut d = Deframer::default();
            let split = d.feed(&bytes[..cut]);
            d.feed(&bytes[cut..]);
            // A cut inside a header (but not at its edges) is reported.
            let in_header = matches!(cut, 1..=3 | 10..=12 | 14..=16);
            assert_eq!(split.is_some(), in_header, "cut {cut}");
            let out = d.finish();
            assert_eq!(
                out.messages,
                [b"hello".to_vec(), vec![], b"world!".to_vec()],
                "cut {cut}"
            );
            assert_eq!(out.incomplete, None);
        }
    }

    #[test]
    fn truncated_stream() {
        let mut bytes = frame(&[b"abc", b"defgh"]);
        bytes.truncate(bytes.len() - 2);
        let mut d = Deframer::default();
        d.feed(&bytes);
        assert_eq!(d.total_bytes(), bytes.len() as u64);
        let out = d.finish();
        assert_eq!(out.messages, [b"abc".to_vec(), b"def".to_vec()]);
        assert_eq!(out.incomplete, Some((5, 3)));
        let mut d = Deframer::default();
        assert_eq!(d.feed(&[0, 0]), Some(0));
        assert_eq!(d.finish().dangling_header, 2);
    }

    #[test]
    fn garbage_never_panics() {
        let mut d = Deframer::default();
        d.feed(&[0xff; 9]);
        d.feed(&[]);
        let out = d.finish();
        assert_eq!(out.messages.len(), 1);
        assert_eq!(out.incomplete, Some((u32::MAX, 5)));
    }
}
