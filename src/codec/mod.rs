//! The RFC 7252 wire format (filled in by the codec work).
