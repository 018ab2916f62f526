//! Byte arenas: variable-length byte strings packed into one fixed array,
//! compacted on removal so there is never fragmentation.

/// Where a byte string lives in an [`Arena`]: offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) off: u16,
    pub(crate) len: u16,
}

impl Span {
    pub(crate) const EMPTY: Span = Span { off: 0, len: 0 };

    /// After `removed` was cut out of the arena, the span's new position.
    pub(crate) fn after_removal_of(self, removed: Span) -> Span {
        if removed.len > 0 && self.off >= removed.off.saturating_add(removed.len) {
            Span { off: self.off - removed.len, len: self.len }
        } else {
            self
        }
    }

    pub(crate) fn len(self) -> usize {
        usize::from(self.len)
    }
}

/// `N` bytes, of which the first `used` hold live strings.
pub(crate) struct Arena<const N: usize> {
    used: u16,
    bytes: [u8; N],
}

impl<const N: usize> Arena<N> {
    pub(crate) fn used(&self) -> usize {
        usize::from(self.used)
    }

    pub(crate) fn free(&self) -> usize {
        N.saturating_sub(self.used())
    }

    /// The bytes of `span` (empty if the span is out of range, which the
    /// engine never produces).
    pub(crate) fn get(&self, span: Span) -> &[u8] {
        let start = usize::from(span.off);
        self.bytes.get(start..start + span.len()).unwrap_or(&[])
    }

    /// Appends the concatenation of `parts`; `None` (and no change) if it
    /// does not fit.
    pub(crate) fn push(&mut self, parts: &[&[u8]]) -> Option<Span> {
        push(&mut self.used, &mut self.bytes, parts)
    }

    /// Appends `len` zero bytes to be filled through [`Arena::get_mut`].
    pub(crate) fn reserve(&mut self, len: usize) -> Option<Span> {
        if len > self.free() {
            return None;
        }
        let start = self.used();
        self.bytes.get_mut(start..start + len)?.fill(0);
        self.used = (start + len) as u16;
        Some(Span { off: start as u16, len: len as u16 })
    }

    /// The bytes of `span`, writable.
    pub(crate) fn get_mut(&mut self, span: Span) -> &mut [u8] {
        let start = usize::from(span.off);
        self.bytes.get_mut(start..start + span.len()).unwrap_or(&mut [])
    }

    /// Cuts `span` out, moving everything after it down. Callers then move
    /// their other spans with [`Span::after_removal_of`].
    pub(crate) fn remove(&mut self, span: Span) {
        remove(&mut self.used, &mut self.bytes, span);
    }
}

// The bodies of push and remove, not generic over N, so the two arenas
// share one copy of each in firmware.

fn push(used: &mut u16, bytes: &mut [u8], parts: &[&[u8]]) -> Option<Span> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let start = usize::from(*used);
    if total > bytes.len().saturating_sub(start) {
        return None;
    }
    let mut at = start;
    for part in parts {
        bytes.get_mut(at..at + part.len())?.copy_from_slice(part);
        at += part.len();
    }
    // total <= N <= u16::MAX (checked in capacity.rs)
    *used = at as u16;
    Some(Span { off: start as u16, len: total as u16 })
}

fn remove(used: &mut u16, bytes: &mut [u8], span: Span) {
    let start = usize::from(span.off);
    let end = start + span.len();
    let in_use = usize::from(*used);
    if end > in_use {
        return;
    }
    bytes.copy_within(end..in_use, start);
    *used -= span.len;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn push_remove_compact() {
        let mut a: Arena<8> = Arena { used: 0, bytes: [0; 8] };
        let x = a.push(&[b"ab"]).unwrap();
        let y = a.push(&[b"c", b"de"]).unwrap();
        assert_eq!(a.get(y), b"cde");
        assert_eq!(a.push(&[b"1234"]), None);
        assert_eq!(a.used(), 5);
        a.remove(x);
        let y = y.after_removal_of(x);
        assert_eq!(a.get(y), b"cde");
        assert_eq!(a.free(), 5);
        let z = a.push(&[b"12345"]).unwrap();
        assert_eq!(a.get(z), b"12345");
        assert_eq!(a.get(y), b"cde");
        assert_eq!(a.free(), 0);
        assert_eq!(a.get(Span { off: 7, len: 5 }), b"");
    }
}
