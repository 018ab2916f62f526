//! The message layer's entry point: [`Engine::receive`] classifies one
//! datagram (RFC 7252 §4) and hands it to the server or the client.

use super::dedup::Replay;
use super::server::write_empty;
use super::{Endpoint, Engine, Error, Event, Instant, Received, Response};
use crate::capacity::MESSAGE_MAX;
use crate::codec::{parse_header, FormatError, Message, MessageType};

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
    ///   nothing gets RST.
    /// - A remote DELETE that removed a resource: [`Event::ResourceDeleted`].
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
        let mut received = self.receive_inner(now, from, via_multicast, datagram, reply);
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
    ) -> Received<'a> {
        self.dedup.expire(now);
        let nothing = Received { reply_len: 0, event: None };
        let msg = match Message::parse(datagram) {
            Ok(m) => m,
            Err(FormatError::Version) => return nothing,
            Err(_) => {
                // §4.2/§4.3: reject a CON whose header we can read; drop the rest.
                let len = match parse_header(datagram) {
                    Ok(h) if h.mtype == MessageType::Con && !via_multicast => {
                        write_empty(MessageType::Rst, h.mid, reply)
                    }
                    _ => 0,
                };
                return Received { reply_len: len, event: None };
            }
        };
        let (t, code) = (msg.mtype(), msg.code());
        if code.is_empty() {
            return match t {
                // A ping (§4.3).
                MessageType::Con if !via_multicast => {
                    Received { reply_len: write_empty(MessageType::Rst, msg.mid(), reply), event: None }
                }
                MessageType::Ack => {
                    self.on_empty_ack(now, from, msg.mid());
                    nothing
                }
                MessageType::Rst => Received { reply_len: 0, event: self.on_reset(from, msg.mid()) },
                // An Empty NON is a format error (§4.3): dropped.
                _ => nothing,
            };
        }
        if code.is_request() {
            return match t {
                MessageType::Con | MessageType::Non => {
                    let (reply_len, event) = self.handle_request(now, from, via_multicast, &msg, reply);
                    Received { reply_len, event }
                }
                // A request in an ACK or RST is a format error: dropped.
                _ => nothing,
            };
        }
        // A response (class 2, 4 or 5; reserved classes failed parsing).
        match t {
            MessageType::Rst => nothing, // RST must be Empty: format error
            MessageType::Ack => match self.match_response(from, t, msg.mid(), msg.token()) {
                Some(session) => Received { reply_len: 0, event: Some(response_event(session, &msg)) },
                None => nothing, // late or duplicate piggybacked response
            },
            MessageType::Con | MessageType::Non => self.separate_response(now, from, &msg, reply),
        }
    }

    /// A CON or NON response: deduplicated, matched by token, acknowledged.
    fn separate_response<'a>(
        &mut self,
        now: Instant,
        from: Endpoint,
        msg: &Message<'a>,
        reply: &mut [u8],
    ) -> Received<'a> {
        let con = msg.mtype() == MessageType::Con;
        if let Some(replay) = self.dedup.lookup(now, from, msg.mid()) {
            // A duplicate: ACK (or RST) again, deliver nothing.
            let len = if con { self.write_replay(replay, msg.mid(), reply) } else { 0 };
            return Received { reply_len: len, event: None };
        }
        let session = self.match_response(from, msg.mtype(), msg.mid(), msg.token());
        let replay = match (con, session.is_some()) {
            (false, _) => Replay::Nothing,
            (true, true) => Replay::EmptyAck,
            (true, false) => Replay::Reset,
        };
        self.dedup.insert(now, from, msg.mid(), replay);
        let reply_len = if con { self.write_replay(replay, msg.mid(), reply) } else { 0 };
        Received { reply_len, event: session.map(|s| response_event(s, msg)) }
    }
}

/// True if `reply` is an RST or a 4.xx/5.xx response.
fn is_error_or_reset(reply: &[u8]) -> bool {
    match reply {
        [first, code, ..] => (first >> 4) & 3 == MessageType::Rst.bits() || code >> 5 >= 4,
        _ => false,
    }
}

fn response_event<'a>(session: super::SessionHandle, msg: &Message<'a>) -> Event<'a> {
    Event::Response(Response {
        session,
        code: msg.code().0,
        message_type: msg.mtype().bits(),
        mid: msg.mid(),
        token: msg.token(),
        payload: msg.payload(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::engine::testutil::*;
    use crate::codec::Code;

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
