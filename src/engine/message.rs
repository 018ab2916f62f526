//! The message layer's entry point: [`Engine::receive`] classifies one
//! datagram (RFC 7252 §4) and hands it to the server or the client.

use super::client::{number, Matched};
use super::dedup::Replay;
use super::server::{reason, write_empty};
use super::{Endpoint, Engine, Error, Event, Instant, Received, Response};
use crate::capacity::MESSAGE_MAX;
use crate::codec::option::SIZE1;
use crate::codec::{parse_header, Code, FormatError, Header, Message, MessageRepr, MessageType, HEADER_LEN};

impl Engine {
    /// Handles one datagram from `from`. `via_multicast` marks datagrams
    /// that arrived on the multicast socket: they never get error responses.
    /// A direct reply (response, ACK, RST) is written to `reply`, to be
    /// sent back to `from`; `reply` must hold [`MESSAGE_MAX`] bytes, else
    /// [`Error::Buffer`] (and nothing happens).
    ///
    /// - Version ≠ 1: ignored. A message format error: RST if it is a CON
    ///   with a readable header, else dropped. An Empty CON (ping): RST.
    /// - CON/NON requests: served (piggybacked ACK / NON response); a
    ///   duplicate is answered from the deduplication cache.
    /// - Responses to our requests: reported as [`Event::Response`]; a CON
    ///   one is acknowledged (an empty ACK in `reply`), a duplicate is
    ///   acknowledged again but not reported twice, a CON one that matches
    ///   nothing gets RST. A piggybacked response must match the request's
    ///   Message ID and token: an ACK with another token only acknowledges
    ///   the request, which then waits for a separate response.
    /// - Responses with an unrecognised critical option are rejected
    ///   (§5.4.1) and reported to nobody: a CON one gets RST, a NON one or an
    ///   ACK is ignored (the ACK does not acknowledge the request either).
    /// - A remote DELETE that removed a resource: [`Event::ResourceDeleted`].
    /// - A datagram longer than [`MESSAGE_MAX`] is *oversize*: only its
    ///   first [`MESSAGE_MAX`] bytes are read (a receiver that reads one
    ///   byte more than that learns that a datagram was too large, and may
    ///   pass it truncated). An oversize CON or NON request gets 4.13
    ///   (piggybacked in the ACK, or NON) with Size1 = the largest payload
    ///   a message with its header, token and options can carry (0 when
    ///   the options alone do not fit), and is otherwise not handled: not
    ///   deduplicated, nothing applied. A format error in those bytes is
    ///   handled as for any datagram; an oversize response is dropped.
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Endpoint, Engine, Error, Instant};
    /// use mpcoap::codec::{Message, MessageType};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let from = Endpoint { addr: [10, 0, 0, 9], port: 1234 };
    /// let mut reply = [0u8; mpcoap::capacity::MESSAGE_MAX];
    /// // An Empty CON ("CoAP ping") gets RST with its Message ID.
    /// let r = engine.receive(Instant(0), from, false, &[0x40, 0x00, 0x12, 0x34], &mut reply)?;
    /// let rst = Message::parse(&reply[..r.reply_len]).unwrap();
    /// assert_eq!((rst.mtype(), rst.mid()), (MessageType::Rst, 0x1234));
    /// // Version 2: silently ignored.
    /// let r = engine.receive(Instant(0), from, false, &[0x80, 0x01, 0, 1], &mut reply)?;
    /// assert_eq!(r.reply_len, 0);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn receive<'a>(
        &'a mut self,
        now: Instant,
        from: Endpoint,
        via_multicast: bool,
        datagram: &'a [u8],
        reply: &mut [u8],
    ) -> Result<Received<'a>, Error> {
        if reply.len() < MESSAGE_MAX {
            return Err(Error::Buffer);
        }
        let mut received = self.receive_inner(now, from, via_multicast, datagram, reply)?;
        if via_multicast && is_error_or_reset(reply.get(..received.reply_len).unwrap_or(&[])) {
            // RFC 7252 §8.1: whatever the path (a fresh request, a
            // replayed duplicate, a stray response), nothing negative goes
            // back to a multicast datagram.
            received.reply_len = 0;
        }
        Ok(received)
    }

    fn receive_inner<'a>(
        &'a mut self,
        now: Instant,
        from: Endpoint,
        via_multicast: bool,
        datagram: &'a [u8],
        reply: &mut [u8],
    ) -> Result<Received<'a>, Error> {
        self.dedup.expire(now);
        let nothing = Received { reply_len: 0, event: None };
        // An oversize datagram: only its first MESSAGE_MAX bytes are read.
        let oversize = datagram.len() > MESSAGE_MAX;
        let datagram = datagram.get(..MESSAGE_MAX).unwrap_or(datagram);
        let msg = match Message::parse(datagram) {
            Ok(m) => m,
            Err(FormatError::Version) => return Ok(nothing),
            Err(e) => {
                // §4.2/§4.3: reject a CON whose header we can read; drop the
                // rest. An oversize request whose options run past the
                // limit is no format error: no room for any payload.
                let cut = oversize && matches!(e, FormatError::Truncated | FormatError::EmptyPayload);
                let len = match parse_header(datagram) {
                    Ok(h) if cut => {
                        let end = HEADER_LEN + usize::from(h.token_len);
                        self.oversize_reply(h, datagram.get(HEADER_LEN..end).unwrap_or_default(), 0, reply)
                    }
                    Ok(h) if h.mtype == MessageType::Con && !via_multicast => {
                        write_empty(MessageType::Rst, h.mid, reply)
                    }
                    _ => 0,
                };
                return Ok(Received { reply_len: len, event: None });
            }
        };
        if oversize {
            let len = self.oversize_reply(msg.header(), msg.token(), msg.payload().len(), reply);
            return Ok(Received { reply_len: len, event: None });
        }
        let (t, code) = (msg.mtype(), msg.code());
        if code.is_empty() {
            return Ok(match t {
                // A ping (§4.3).
                MessageType::Con if !via_multicast => {
                    Received { reply_len: write_empty(MessageType::Rst, msg.mid(), reply), event: None }
                }
                MessageType::Ack => {
                    if !self.observer_acked(now, from, msg.mid()) {
                        self.on_empty_ack(now, from, msg.mid());
                    }
                    nothing
                }
                MessageType::Rst if self.observer_reset(from, msg.mid()) => nothing,
                MessageType::Rst => Received { reply_len: 0, event: self.on_reset(from, msg.mid()) },
                // An Empty NON is a format error (§4.3): dropped.
                _ => nothing,
            });
        }
        if code.is_request() {
            return Ok(match t {
                MessageType::Con | MessageType::Non => {
                    let (reply_len, event) = self.handle_request(now, from, via_multicast, &msg, reply)?;
                    Received { reply_len, event }
                }
                // A request in an ACK or RST is a format error: dropped.
                _ => nothing,
            });
        }
        // A response (class 2, 4 or 5; reserved classes failed parsing).
        Ok(match t {
            MessageType::Rst => nothing, // RST must be Empty: format error
            // §5.4.1: a piggybacked response with an unrecognised critical
            // option is rejected, and rejecting an ACK means ignoring it
            // (§4.2): it does not even acknowledge the CON, which is
            // retransmitted and gives up unless a valid response comes.
            MessageType::Ack if msg.critical_option_error().is_some() => nothing,
            MessageType::Ack => match self.on_piggybacked(now, from, &msg)? {
                Matched::Event(r) => Received { reply_len: 0, event: Some(Event::Response(r)) },
                Matched::Fetched(r) => Received { reply_len: 0, event: Some(Event::Response(Response { token: self.event_token(), ..r })) },
                // Late, duplicate, or not ours (another token: then it
                // acknowledged the CON, like an empty ACK), or the next
                // block of a transfer was queued.
                _ => nothing,
            },
            MessageType::Con | MessageType::Non => self.separate_response(now, from, &msg, reply)?,
        })
    }

    /// The answer to an oversize datagram whose first [`MESSAGE_MAX`]
    /// bytes hold `header` and `token` and `payload_len` bytes of payload:
    /// 4.13 for a CON or NON request, nothing for anything else. Kept out
    /// of line: it is rare, and inlined it costs every datagram.
    #[cold]
    #[inline(never)]
    fn oversize_reply(&mut self, header: Header, token: &[u8], payload_len: usize, reply: &mut [u8]) -> usize {
        let con = header.mtype == MessageType::Con;
        if !header.code.is_request() || !(con || header.mtype == MessageType::Non) {
            return 0;
        }
        self.write_too_large(header, token, payload_len, reply)
    }

    /// 4.13 with Size1 and the reason phrase, answering `header`'s request.
    fn write_too_large(&mut self, header: Header, token: &[u8], size1: usize, reply: &mut [u8]) -> usize {
        let (t, mid) = match header.mtype {
            MessageType::Con => (MessageType::Ack, header.mid),
            _ => (MessageType::Non, self.take_mid()),
        };
        let mut repr: MessageRepr<'_, 1> = MessageRepr::new(t, Code::REQUEST_ENTITY_TOO_LARGE, mid);
        repr.token = token;
        // size1 < MESSAGE_MAX, so it always fits a u32.
        if repr.push_uint(SIZE1, u32::try_from(size1).unwrap_or(0)).is_err() {
            return 0;
        }
        repr.payload = reason(Code::REQUEST_ENTITY_TOO_LARGE);
        repr.emit(reply).unwrap_or(0)
    }

    /// A CON or NON response: deduplicated, matched by token, acknowledged.
    /// One with an unrecognised critical option is rejected (§5.4.1): RST
    /// for a CON, dropped for a NON (§4.3); it answers no request, which
    /// keeps waiting for a valid response or gives up.
    fn separate_response<'a>(
        &mut self,
        now: Instant,
        from: Endpoint,
        msg: &Message<'a>,
        reply: &mut [u8],
    ) -> Result<Received<'a>, Error> {
        let con = msg.mtype() == MessageType::Con;
        if let Some(replay) = self.dedup.lookup(now, from, msg.mid(), false) {
            // A duplicate: ACK (or RST) again, deliver nothing. A NON gets
            // only an RST again (a notification nobody observes), never an
            // ACK (its Message ID repeats a CON's).
            let len = if con || matches!(replay, Replay::Reset) { self.write_replay(replay, msg.mid(), reply) } else { 0 };
            return Ok(Received { reply_len: len, event: None });
        }
        let matched = match msg.critical_option_error() {
            Some(_) => Matched::No,
            None => self.match_separate(now, from, msg)?,
        };
        let (ours, event) = match matched {
            Matched::Ignore => return Ok(Received { reply_len: 0, event: None }),
            Matched::No => (false, None),
            Matched::Quiet => (true, None),
            // (A fetch's block never matches here: its token is not the
            // observation's.)
            Matched::Event(r) | Matched::Fetched(r) => (true, Some(Event::Response(r))),
        };
        let replay = match (con, ours) {
            (true, true) => Replay::EmptyAck,
            // A notification nobody observes gets RST, NON too (RFC 7641
            // §3.6): the server then forgets the observation.
            (true, false) => Replay::Reset,
            (false, false) if number(msg).is_some() => Replay::Reset,
            (false, _) => Replay::Nothing,
        };
        self.dedup.insert(now, from, msg.mid(), con, false, replay);
        let reply_len = self.write_replay(replay, msg.mid(), reply);
        Ok(Received { reply_len, event })
    }
}

/// True if `reply` is an RST or a 4.xx/5.xx response.
fn is_error_or_reset(reply: &[u8]) -> bool {
    match reply {
        [first, code, ..] => (first >> 4) & 3 == MessageType::Rst.bits() || code >> 5 >= 4,
        _ => false,
    }
}


#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::engine::testutil::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn classification() {
        let mut e = Boxed::new(0, 3);
        // Ping → RST with the same MID, no token.
        let r = exchange(&mut e, 0, PEER, false, &[0x40, 0x00, 0xbe, 0xef]).0.unwrap();
        assert_eq!((r.t, r.code, r.mid, r.token.len(), r.payload.len()), (MessageType::Rst, Code::EMPTY, 0xbeef, 0, 0));
        // Pings are not deduplicated state: a second one is answered too.
        assert!(exchange(&mut e, 0, PEER, false, &[0x40, 0x00, 0xbe, 0xef]).0.is_some());
        // Empty ACK / RST that match nothing, Empty NON: silence.
        for d in [[0x60, 0x00, 0, 1], [0x70, 0x00, 0, 2], [0x50, 0x00, 0, 3]] {
            assert_eq!(exchange(&mut e, 0, PEER, false, &d), (None, None));
        }
        // Format error in a CON with a token: RST carries only the MID.
        let r = exchange(&mut e, 0, PEER, false, &[0x42, 0x01, 0, 4, 1]).0.unwrap();
        assert_eq!((r.t, r.mid, r.token.len()), (MessageType::Rst, 4, 0));
        // Empty input, one byte: nothing.
        assert_eq!(exchange(&mut e, 0, PEER, false, &[]), (None, None));
        assert_eq!(exchange(&mut e, 0, PEER, false, &[0x40]), (None, None));
    }

    #[test]
    fn oversize_request_gets_4_13_with_the_room_one_message_has() {
        let mut e = Boxed::new(0, 3);
        let h = e.add_resource(b"r", None, None, b"v", false).unwrap();
        e.set_methods(h, crate::engine::Methods::ALL, true).unwrap();
        let opts: &[(u16, &[u8])] = &[(crate::codec::option::URI_PATH, b"r")];
        for len in [MESSAGE_MAX + 1, 1500, 4000] {
            let d = datagram(MessageType::Con, Code::PUT, 9, b"tk", opts, &vec![b'x'; len]);
            let (r, ev) = exchange(&mut e, 0, PEER, false, &d);
            let r = r.unwrap();
            assert_eq!((r.t, r.code, r.mid, r.token.as_slice()), (MessageType::Ack, Code::REQUEST_ENTITY_TOO_LARGE, 9, &b"tk"[..]));
            // Header 4, token 2, Uri-Path "r" 2, payload marker 1.
            let size1 = crate::codec::option::decode_uint(r.option(SIZE1).unwrap());
            assert_eq!(size1 as usize, MESSAGE_MAX - 9);
            assert_eq!(r.payload, b"Request Entity Too Large");
            assert_eq!(ev, None);
            // Nothing applied, nothing remembered: the next copy is answered alike.
            assert_eq!(e.resource_value(h).unwrap(), b"v");
        }
        // A request that fits is handled as always: its 4.13 comes from
        // the resource (Size1 = the room for its value: the remote budget
        // plus the application's 1-byte value).
        e.set_remote_budget(100);
        let d = datagram(MessageType::Con, Code::PUT, 10, b"", opts, &[b'y'; MESSAGE_MAX - 7]);
        assert_eq!(d.len(), MESSAGE_MAX);
        let r = exchange(&mut e, 0, PEER, false, &d).0.unwrap();
        assert_eq!(r.code, Code::REQUEST_ENTITY_TOO_LARGE);
        assert_eq!(crate::codec::option::decode_uint(r.option(SIZE1).unwrap()), 101);
        // NON: a NON 4.13 with a fresh Message ID.
        let d = datagram(MessageType::Non, Code::POST, 11, b"n", opts, &[0; 1500]);
        let r = exchange(&mut e, 0, PEER, false, &d).0.unwrap();
        assert_eq!((r.t, r.code, r.token.as_slice()), (MessageType::Non, Code::REQUEST_ENTITY_TOO_LARGE, &b"n"[..]));
        assert_ne!(r.mid, 11);
        // Via multicast: no error response (RFC 7252 §8.1).
        assert_eq!(exchange(&mut e, 0, PEER, true, &d), (None, None));
        let d = datagram(MessageType::Con, Code::GET, 12, b"", opts, &[0; 1500]);
        assert_eq!(exchange(&mut e, 0, PEER, true, &d), (None, None));
    }

    #[test]
    fn oversize_options_leave_no_room_and_other_oversize_datagrams() {
        let mut e = Boxed::new(0, 3);
        // Options alone longer than a message: Size1 0.
        let long = [b'a'; 255];
        let path = crate::codec::option::URI_PATH;
        let opts: Vec<(u16, &[u8])> = (0..6).map(|_| (path, &long[..])).collect();
        let d = datagram(MessageType::Con, Code::GET, 13, b"abc", &opts, b"");
        assert!(d.len() > MESSAGE_MAX);
        let r = exchange(&mut e, 0, PEER, false, &d).0.unwrap();
        assert_eq!((r.code, r.mid, r.token.as_slice()), (Code::REQUEST_ENTITY_TOO_LARGE, 13, &b"abc"[..]));
        assert_eq!(r.option(SIZE1), Some(&[][..]));
        // A format error within the first bytes: RST for a CON, as always.
        let mut bad = vec![0x40, 0x01, 0, 14, 0xf1];
        bad.resize(1500, 0);
        let r = exchange(&mut e, 0, PEER, false, &bad).0.unwrap();
        assert_eq!((r.t, r.mid), (MessageType::Rst, 14));
        bad[0] = 0x50;
        assert_eq!(exchange(&mut e, 0, PEER, false, &bad), (None, None));
        // Oversize responses and version 2: dropped. A ping with trailing
        // bytes is a format error: RST.
        let resp = datagram(MessageType::Con, Code::CONTENT, 15, b"", &[], &[0; 1500]);
        assert_eq!(exchange(&mut e, 0, PEER, false, &resp), (None, None));
        let mut ping = vec![0x40, 0x00, 0, 16];
        ping.resize(1500, 1);
        assert_eq!(exchange(&mut e, 0, PEER, false, &ping).0.unwrap().t, MessageType::Rst);
        ping[0] = 0x80;
        assert_eq!(exchange(&mut e, 0, PEER, false, &ping), (None, None));
    }

    #[test]
    fn negative_replies() {
        assert!(is_error_or_reset(&[0x70, 0x00, 0, 1]));
        assert!(is_error_or_reset(&[0x60, 0x84, 0, 1]));
        assert!(is_error_or_reset(&[0x50, 0xa5, 0, 1]));
        assert!(!is_error_or_reset(&[0x60, 0x45, 0, 1]));
        assert!(!is_error_or_reset(&[0x60, 0x00, 0, 1]));
        assert!(!is_error_or_reset(&[]));
    }

    #[test]
    fn buffer_check_comes_first() {
        let mut e = Boxed::new(0, 3);
        let mut small = [0u8; MESSAGE_MAX - 1];
        assert_eq!(
            e.receive(Instant(0), PEER, false, &[0x40, 0x00, 0, 1], &mut small).map(|r| r.reply_len),
            Err(Error::Buffer)
        );
        let mut buf = [0u8; MESSAGE_MAX - 1];
        assert_eq!(e.poll_transmit(Instant(0), &mut buf), Err(Error::Buffer));
    }
}
