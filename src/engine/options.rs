//! The server's view of a request's options: one pass over them applying
//! RFC 7252 §5.4 and the contract's option table.
//!
//! - An unrecognised critical option (unknown number, value length outside
//!   its range, §5.4.3, or a repeat of a non-repeatable one, §5.4.5) rejects
//!   the request: 4.02 for CON, dropped for NON.
//! - An unrecognised elective option is ignored, and so is every instance
//!   of a recognised elective option whose length is out of range or that
//!   repeats a non-repeatable one (the first valid instance counts).
//!
//! Growing: Observe (6) and Block1/Block2 (27/23) are parsed here already
//! (`observe`, `block1`, `block2`); the server decides what to do with them.
//! A new option gets a field here and a line in `scan`.

use crate::codec::option::{self, Block};
use crate::codec::Numbered;
use crate::codec::Message;

/// The options the server acts on, read from one request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequestOptions {
    pub(crate) content_format: Option<u16>,
    pub(crate) accept: Option<u16>,
    pub(crate) if_none_match: bool,
    pub(crate) has_if_match: bool,
    pub(crate) has_etag: bool,
    pub(crate) proxy: bool,
    /// Parsed, not acted on until Observe lands (served as a plain GET).
    #[allow(dead_code)]
    pub(crate) observe: Option<u32>,
    pub(crate) block1: Option<Block>,
    pub(crate) block2: Option<Block>,
}

/// A critical option the server does not understand (its number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadOption(pub(crate) u16);

impl RequestOptions {
    pub(crate) fn scan(msg: &Message<'_>) -> Result<RequestOptions, BadOption> {
        if let Some(n) = msg.critical_option_error() {
            return Err(BadOption(n));
        }
        let mut o = RequestOptions::default();
        let mut prev = None;
        for opt in msg.options() {
            let repeat = prev == Some(opt.number);
            prev = Some(opt.number);
            if !opt.is_recognized() || (repeat && !option::is_repeatable(opt.number)) {
                continue; // elective (critical ones were rejected above)
            }
            // Lengths are within range here, so the uints fit their types.
            match opt.number {
                option::CONTENT_FORMAT => o.content_format = Some(opt.uint() as u16),
                option::ACCEPT => o.accept = Some(opt.uint() as u16),
                option::IF_NONE_MATCH => o.if_none_match = true,
                option::IF_MATCH => o.has_if_match = true,
                option::ETAG => o.has_etag = true,
                option::PROXY_URI | option::PROXY_SCHEME => o.proxy = true,
                option::OBSERVE => o.observe = Some(opt.uint()),
                option::BLOCK1 => o.block1 = Some(Block::from_uint(opt.uint())),
                option::BLOCK2 => o.block2 = Some(Block::from_uint(opt.uint())),
                // Uri-Host, Uri-Port: one server, ignored. Uri-Path,
                // Uri-Query: read by the callers. Max-Age, Size1 and the
                // rest: elective, ignored in requests.
                _ => {}
            }
        }
        Ok(o)
    }
}

/// The values of every valid instance (length in range) of option `number`,
/// e.g. the Uri-Path segments.
pub(crate) fn values<'a>(msg: &Message<'a>, number: u16) -> Values<'a> {
    Values(msg.options_numbered(number))
}

/// Iterator of [`values`]: a named type, so every caller shares one `next`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Values<'a>(Numbered<'a>);

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let o = self.0.next()?;
            if o.is_recognized() {
                return Some(o.value);
            }
        }
    }
}
