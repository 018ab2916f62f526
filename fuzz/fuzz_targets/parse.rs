//! Parse arbitrary bytes. When they parse, re-emit them through
//! `MessageRepr` and check the oracle: the CoAP encoding of a message is
//! unique (§3.1 leaves no choice of nibble or extended form), so the
//! re-emitted datagram must equal the input byte for byte and parse back to
//! the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpcoap::codec::{parse_header, EncodeError, FormatError, Message, MessageRepr};

/// Every option takes at least one byte, so this covers any input up to
/// 1204 bytes; longer inputs with more options only skip the re-emission.
/// (A bigger capacity makes each run copy a large `MessageRepr` around.)
const MAX_OPTIONS: usize = 1200;

fuzz_target!(|data: &[u8]| {
    let header = parse_header(data);
    let msg = match Message::parse(data) {
        Ok(msg) => msg,
        Err(e) => {
            // The header-only reader agrees on the errors it can see.
            match header {
                Err(he) => assert_eq!(he, e),
                Ok(_) => assert_ne!(e, FormatError::Version),
            }
            return;
        }
    };
    assert_eq!(header, Ok(msg.header()));
    let _ = msg.critical_option_error();
    let count = msg.options().count();
    assert!(count <= data.len());
    assert!(msg
        .options()
        .zip(msg.options().skip(1))
        .all(|(a, b)| a.number <= b.number));

    let repr = match MessageRepr::<MAX_OPTIONS>::from_message(&msg) {
        Ok(repr) => repr,
        Err(e) => {
            assert!(e == EncodeError::TooManyOptions && count > MAX_OPTIONS);
            return;
        }
    };
    let len = repr.buffer_len();
    assert_eq!(len, data.len());
    let mut buf = vec![0u8; len + 1];
    let n = repr.emit(&mut buf).expect("a parsed message emits");
    assert_eq!(&buf[..n], data, "re-emission differs from the input");
    assert_eq!(
        repr.emit(&mut buf[..len - 1]),
        Err(EncodeError::BufferTooSmall)
    );

    let again = Message::parse(&buf[..n]).expect("re-emitted message parses");
    assert_eq!(again, msg);
    assert!(MessageRepr::<MAX_OPTIONS>::from_message(&again).as_ref() == Ok(&repr));
});
