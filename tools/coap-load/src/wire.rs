//! Requests and responses through the engine's codec (`mpcoap::codec`).

use mpcoap::codec::{option, parse_header, Code, Message, MessageRepr, MessageType};

/// Writes a CON GET for `path` ("/a/b" -> Uri-Path "a", "b") into `buf`.
pub fn build_get(buf: &mut [u8], mid: u16, token: &[u8], path: &str) -> Result<usize, String> {
    let mut repr: MessageRepr<'_, 8> = MessageRepr::new(MessageType::Con, Code::GET, mid);
    repr.token = token;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        repr.push_bytes(option::URI_PATH, segment.as_bytes())
            .map_err(|e| format!("request for {path}: {e}"))?;
    }
    repr.emit(buf).map_err(|e| format!("request for {path}: {e}"))
}

/// The Message ID of anything with a readable header.
pub fn mid_of(datagram: &[u8]) -> Option<u16> {
    parse_header(datagram).ok().map(|h| h.mid)
}

/// Checks that `datagram` is the piggybacked answer to our request.
pub fn check_response(
    datagram: &[u8],
    mid: u16,
    token: &[u8],
    expect: u8,
    payload_len: Option<usize>,
) -> Result<(), String> {
    let msg = Message::parse(datagram).map_err(|e| format!("MID {mid}: response does not parse: {e}"))?;
    if msg.mtype() != MessageType::Ack {
        return Err(format!("MID {mid}: {:?} instead of ACK", msg.mtype()));
    }
    if msg.token() != token {
        return Err(format!("MID {mid}: token {:02x?} instead of {token:02x?}", msg.token()));
    }
    if msg.code() != Code(expect) {
        return Err(format!("MID {mid}: code {} instead of {}", msg.code(), Code(expect)));
    }
    if let Some(n) = payload_len {
        if msg.payload().len() != n {
            return Err(format!("MID {mid}: payload of {} bytes instead of {n}", msg.payload().len()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_matches_the_landscape_vector() {
        // CON GET, MID 0x1234, token 01020304, Uri-Path sensors/temp.
        let mut buf = [0u8; 64];
        let n = build_get(&mut buf, 0x1234, &[1, 2, 3, 4], "/sensors/temp").unwrap();
        assert_eq!(&buf[..n], b"\x44\x01\x12\x34\x01\x02\x03\x04\xb7sensors\x04temp");
        let n = build_get(&mut buf, 1, &[], "/").unwrap();
        assert_eq!(&buf[..n], b"\x40\x01\x00\x01");
    }

    #[test]
    fn responses_are_checked() {
        let ok = b"\x64\x45\x12\x34\x01\x02\x03\x04\xffhi";
        assert_eq!(check_response(ok, 0x1234, &[1, 2, 3, 4], 0x45, Some(2)), Ok(()));
        assert!(check_response(ok, 0x1234, &[1, 2, 3, 5], 0x45, None).is_err());
        assert!(check_response(ok, 0x1234, &[1, 2, 3, 4], 0x84, None).is_err());
        assert!(check_response(ok, 0x1234, &[1, 2, 3, 4], 0x45, Some(3)).is_err());
        assert!(check_response(b"\x70\x00\x12\x34", 0x1234, &[], 0x45, None).is_err());
        assert_eq!(mid_of(ok), Some(0x1234));
    }
}
