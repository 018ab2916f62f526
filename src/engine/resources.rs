//! The resource table: resources, their attributes, and two byte arenas
//! (uris and attribute text; values), all of fixed capacity.

use super::arena::{Arena, Span};
use super::link_format;
use super::uri::{strip_slash, valid_resource_uri};
use super::{Engine, Error, Methods, ResourceHandle};
use crate::capacity::{
    ATTRIBUTES_MAX, RESOURCES_MAX, TEXT_BYTES, VALUE_BYTES, VALUE_MAX, WELL_KNOWN_CORE_MAX,
};

const IN_USE: u8 = 1;
const HAS_MEDIA_TYPE: u8 = 2;
const HAS_MAX_AGE: u8 = 4;
const ETAG_ENABLED: u8 = 8;

/// The uri reserved for the generated discovery document.
pub(crate) const WELL_KNOWN_CORE: &[u8] = b".well-known/core";

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Resource {
    uri: Span,
    value: Span,
    max_age: u32,
    media_type: u16,
    etag: u16,
    generation: u16,
    flags: u8,
    methods: u8,
}

impl Resource {
    pub(crate) fn media_type(&self) -> Option<u16> {
        (self.flags & HAS_MEDIA_TYPE != 0).then_some(self.media_type)
    }
    pub(crate) fn max_age(&self) -> Option<u32> {
        (self.flags & HAS_MAX_AGE != 0).then_some(self.max_age)
    }
    /// The current ETag if ETags are enabled.
    pub(crate) fn etag(&self) -> Option<u16> {
        (self.flags & ETAG_ENABLED != 0).then_some(self.etag)
    }
    pub(crate) fn allows(&self, method: Methods) -> bool {
        u32::from(self.methods) & method.0 != 0
    }
}

/// The next ETag: a 16-bit counter that skips 0.
fn next_etag(etag: u16) -> u16 {
    match etag.wrapping_add(1) {
        0 => 1,
        e => e,
    }
}

/// The ETag's option value: minimal big-endian bytes (1 or 2).
pub(crate) fn etag_bytes(etag: u16, buf: &mut [u8; 2]) -> &[u8] {
    *buf = etag.to_be_bytes();
    if etag > 0xFF {
        buf
    } else {
        buf.get(1..).unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Attribute {
    resource: u8,
    name_len: u8,
    /// name followed by value, in the text arena
    text: Span,
}

pub(crate) struct Resources {
    slots: [Resource; RESOURCES_MAX],
    /// Slots of the live resources, in the order they were added.
    order: [u8; RESOURCES_MAX],
    count: u8,
    /// Attributes in the order they were added.
    attributes: [Attribute; ATTRIBUTES_MAX],
    attribute_count: u8,
    text: Arena<TEXT_BYTES>,
    values: Arena<VALUE_BYTES>,
}

/// RFC 6690 `parmname`: RFC 5987 attr-char without `*`, `'` and `%`.
fn valid_attribute_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.iter().all(|b| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(b))
}

impl Resources {
    pub(crate) fn get(&self, h: ResourceHandle) -> Result<&Resource, Error> {
        match self.slots.get(h.slot()) {
            Some(r) if r.flags & IN_USE != 0 && r.generation == h.generation() => Ok(r),
            _ => Err(Error::Stale),
        }
    }

    fn get_mut(&mut self, h: ResourceHandle) -> Result<&mut Resource, Error> {
        match self.slots.get_mut(h.slot()) {
            Some(r) if r.flags & IN_USE != 0 && r.generation == h.generation() => Ok(r),
            _ => Err(Error::Stale),
        }
    }

    /// Live resources in the order added.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (ResourceHandle, &Resource)> {
        self.order.iter().take(usize::from(self.count)).filter_map(|&slot| {
            let r = self.slots.get(usize::from(slot))?;
            Some((ResourceHandle::new(usize::from(slot), r.generation), r))
        })
    }

    pub(crate) fn uri(&self, r: &Resource) -> &[u8] {
        self.text.get(r.uri)
    }

    pub(crate) fn value(&self, r: &Resource) -> &[u8] {
        self.values.get(r.value)
    }

    /// The attributes of `h`, `(name, value)`, in the order added.
    pub(crate) fn attributes(&self, h: ResourceHandle) -> impl Iterator<Item = (&[u8], &[u8])> {
        let slot = h.slot();
        self.attributes
            .iter()
            .take(usize::from(self.attribute_count))
            .filter(move |a| usize::from(a.resource) == slot)
            .map(|a| {
                let text = self.text.get(a.text);
                let (name, value) = text.split_at(usize::from(a.name_len).min(text.len()));
                (name, value)
            })
    }

    /// The resource whose uri is `uri` (leading `/` already stripped).
    pub(crate) fn find(&self, uri: &[u8]) -> Option<ResourceHandle> {
        self.iter().find(|(_, r)| self.uri(r) == uri).map(|(h, _)| h)
    }

    /// The resource whose uri equals the Uri-Path values joined by `/`.
    pub(crate) fn find_by_path<'a, I>(&self, segments: I) -> Option<ResourceHandle>
    where
        I: Iterator<Item = &'a [u8]> + Clone,
    {
        self.iter()
            .find(|(_, r)| super::uri::path_matches(segments.clone(), self.uri(r)))
            .map(|(h, _)| h)
    }

    /// Length of the unfiltered `/.well-known/core` document.
    pub(crate) fn document_len(&self) -> usize {
        link_format::document_len(self)
    }

    /// Stores `value` as the value of `h` and bumps its ETag.
    pub(crate) fn store_value(&mut self, h: ResourceHandle, value: &[u8]) -> Result<(), Error> {
        let old = self.get(h)?.value;
        if value.len() > VALUE_MAX {
            return Err(Error::ValueTooLarge);
        }
        if value.len() > self.values.free() + old.len() {
            return Err(Error::ValuesFull);
        }
        self.values.remove(old);
        for r in self.slots.iter_mut() {
            r.value = r.value.after_removal_of(old);
        }
        let span = self.values.push(&[value]).ok_or(Error::ValuesFull)?;
        let r = self.get_mut(h)?;
        r.value = span;
        r.etag = next_etag(r.etag);
        Ok(())
    }

    /// The most value bytes `h` could hold now (for Size1 in 4.13).
    pub(crate) fn value_room(&self, h: ResourceHandle) -> usize {
        let old = self.get(h).map(|r| r.value.len()).unwrap_or(0);
        (self.values.free() + old).min(VALUE_MAX)
    }

    fn remove(&mut self, h: ResourceHandle) -> Result<(), Error> {
        let r = *self.get(h)?;
        let slot = h.slot();
        // Text: the uri, then each attribute of this resource.
        self.cut_text(r.uri);
        let mut i = 0;
        while i < usize::from(self.attribute_count) {
            match self.attributes.get(i).copied() {
                Some(a) if usize::from(a.resource) == slot => {
                    self.cut_text(a.text);
                    let n = usize::from(self.attribute_count);
                    self.attributes.copy_within(i + 1..n, i);
                    self.attribute_count -= 1;
                }
                _ => i += 1,
            }
        }
        self.values.remove(r.value);
        for other in self.slots.iter_mut() {
            other.value = other.value.after_removal_of(r.value);
        }
        let count = usize::from(self.count);
        if let Some(pos) = self.order.iter().take(count).position(|s| usize::from(*s) == slot) {
            self.order.copy_within(pos + 1..count, pos);
            self.count -= 1;
        }
        if let Some(s) = self.slots.get_mut(slot) {
            s.flags = 0;
            s.uri = Span::EMPTY;
            s.value = Span::EMPTY;
        }
        Ok(())
    }

    fn cut_text(&mut self, span: Span) {
        self.text.remove(span);
        for r in self.slots.iter_mut() {
            r.uri = r.uri.after_removal_of(span);
        }
        for a in self.attributes.iter_mut() {
            a.text = a.text.after_removal_of(span);
        }
    }
}

impl Engine {
    /// Adds a resource (`add_resource`). One leading `/` of `uri` is
    /// ignored. It answers 4.05 to every method until enabled with
    /// [`Engine::set_methods`]. Its ETag starts at 1 (the initial store).
    ///
    /// Errors, in the order checked: [`Error::Uri`], [`Error::Exists`] (also
    /// for `.well-known/core`), [`Error::ValueTooLarge`],
    /// [`Error::ResourcesFull`], [`Error::TextFull`] (storage, or the
    /// discovery document would not fit one message), [`Error::ValuesFull`].
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let h = engine.add_resource(b"/sensors/temp", Some(0), Some(60), b"0", true)?;
    /// assert_eq!(engine.find_resource(b"sensors/temp"), Some(h));
    /// assert_eq!(engine.add_resource(b"sensors/temp", None, None, b"", false), Err(Error::Exists));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn add_resource(
        &mut self,
        uri: &[u8],
        media_type: Option<u16>,
        max_age: Option<u32>,
        value: &[u8],
        etag: bool,
    ) -> Result<ResourceHandle, Error> {
        let uri = strip_slash(uri);
        if !valid_resource_uri(uri) {
            return Err(Error::Uri);
        }
        let res = &mut self.resources;
        if uri == WELL_KNOWN_CORE || res.find(uri).is_some() {
            return Err(Error::Exists);
        }
        if value.len() > VALUE_MAX {
            return Err(Error::ValueTooLarge);
        }
        let slot = res.slots.iter().position(|r| r.flags & IN_USE == 0).ok_or(Error::ResourcesFull)?;
        if uri.len() > res.text.free()
            || res.document_len() + link_format::added_resource_len(res, uri) > WELL_KNOWN_CORE_MAX
        {
            return Err(Error::TextFull);
        }
        if value.len() > res.values.free() {
            return Err(Error::ValuesFull);
        }
        let uri_span = res.text.push(&[uri]).ok_or(Error::TextFull)?;
        let value_span = res.values.push(&[value]).ok_or(Error::ValuesFull)?;
        let r = res.slots.get_mut(slot).ok_or(Error::ResourcesFull)?;
        let generation = match r.generation.wrapping_add(1) {
            0 => 1,
            g => g,
        };
        let mut flags = IN_USE;
        if media_type.is_some() {
            flags |= HAS_MEDIA_TYPE;
        }
        if max_age.is_some() {
            flags |= HAS_MAX_AGE;
        }
        if etag {
            flags |= ETAG_ENABLED;
        }
        *r = Resource {
            uri: uri_span,
            value: value_span,
            max_age: max_age.unwrap_or(0),
            media_type: media_type.unwrap_or(0),
            etag: 1,
            generation,
            flags,
            methods: 0,
        };
        if let Some(o) = res.order.get_mut(usize::from(res.count)) {
            *o = slot as u8;
            res.count += 1;
        }
        Ok(ResourceHandle::new(slot, generation))
    }

    /// The resource with this uri (one leading `/` ignored), if any.
    pub fn find_resource(&self, uri: &[u8]) -> Option<ResourceHandle> {
        self.resources.find(strip_slash(uri))
    }

    /// Removes a resource; its handle becomes stale. (A remote DELETE does
    /// the same and reports [`Event::ResourceDeleted`](super::Event).)
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let h = engine.add_resource(b"a", None, None, b"0", false)?;
    /// engine.remove_resource(h)?;
    /// assert_eq!(engine.find_resource(b"a"), None);
    /// assert_eq!(engine.remove_resource(h), Err(Error::Stale));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn remove_resource(&mut self, h: ResourceHandle) -> Result<(), Error> {
        self.resources.remove(h)
    }

    /// The resource's current value.
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let h = engine.add_resource(b"a", None, None, b"0", false)?;
    /// engine.set_resource_value(h, b"on")?;
    /// assert_eq!(engine.resource_value(h)?, b"on");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn resource_value(&self, h: ResourceHandle) -> Result<&[u8], Error> {
        let r = self.resources.get(h)?;
        Ok(self.resources.value(r))
    }

    /// Replaces the value; every store increments the ETag, even with the
    /// same bytes. Errors: [`Error::Stale`], [`Error::ValueTooLarge`],
    /// [`Error::ValuesFull`].
    pub fn set_resource_value(&mut self, h: ResourceHandle, value: &[u8]) -> Result<(), Error> {
        self.resources.store_value(h, value)
    }

    /// Adds an attribute shown in `/.well-known/core` (in the order added).
    /// Errors: [`Error::Stale`], [`Error::Attribute`],
    /// [`Error::AttributesFull`], [`Error::TextFull`].
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let h = engine.add_resource(b"a", None, None, b"0", false)?;
    /// engine.add_attribute(h, b"ct", b"0")?;
    /// assert_eq!(engine.add_attribute(h, b"bad name", b"x"), Err(Error::Attribute));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn add_attribute(&mut self, h: ResourceHandle, name: &[u8], value: &[u8]) -> Result<(), Error> {
        let res = &mut self.resources;
        res.get(h)?;
        if !valid_attribute_name(name) {
            return Err(Error::Attribute);
        }
        let n = usize::from(res.attribute_count);
        if n >= ATTRIBUTES_MAX {
            return Err(Error::AttributesFull);
        }
        if name.len() + value.len() > res.text.free()
            || res.document_len() + link_format::attribute_len(name, value) > WELL_KNOWN_CORE_MAX
        {
            return Err(Error::TextFull);
        }
        let text = res.text.push(&[name, value]).ok_or(Error::TextFull)?;
        if let Some(a) = res.attributes.get_mut(n) {
            *a = Attribute { resource: h.slot() as u8, name_len: name.len() as u8, text };
            res.attribute_count += 1;
        }
        Ok(())
    }

    /// Enables or disables methods (`callback(operation, ..., enable)`).
    /// [`Error::Operation`] if the mask has bits outside the four flags.
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Instant, Methods};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let h = engine.add_resource(b"a", None, None, b"0", false)?;
    /// engine.set_methods(h, Methods::ALL, true)?;
    /// engine.set_methods(h, Methods::DELETE, false)?;
    /// assert_eq!(engine.set_methods(h, Methods(16), true), Err(Error::Operation));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn set_methods(&mut self, h: ResourceHandle, mask: Methods, enable: bool) -> Result<(), Error> {
        let r = self.resources.get_mut(h)?;
        if mask.0 & !Methods::ALL.0 != 0 {
            return Err(Error::Operation);
        }
        let bits = mask.0 as u8;
        if enable {
            r.methods |= bits;
        } else {
            r.methods &= !bits;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, clippy::type_complexity)]
mod tests {
    use super::*;
    use crate::engine::testutil::Boxed;

    #[test]
    fn etag_counter() {
        assert_eq!(next_etag(1), 2);
        assert_eq!(next_etag(u16::MAX), 1);
        let mut b = [0; 2];
        assert_eq!(etag_bytes(1, &mut b), [1]);
        assert_eq!(etag_bytes(255, &mut b), [255]);
        assert_eq!(etag_bytes(256, &mut b), [1, 0]);
    }

    #[test]
    fn add_find_remove_and_handles() {
        let mut e = Boxed::new(0, 1);
        assert_eq!(e.add_resource(b"", None, None, b"", false), Err(Error::Uri));
        assert_eq!(e.add_resource(b"/", None, None, b"", false), Err(Error::Uri));
        assert_eq!(e.add_resource(b"\xc3", None, None, b"", false), Err(Error::Uri));
        assert_eq!(e.add_resource(b".well-known/core", None, None, b"", false), Err(Error::Exists));
        let a = e.add_resource(b"/a", Some(50), Some(9), b"0", true).unwrap();
        assert_eq!(e.add_resource(b"a", None, None, b"", false), Err(Error::Exists));
        assert_eq!(e.find_resource(b"/a"), Some(a));
        let r = *e.resources.get(a).unwrap();
        assert_eq!((r.media_type(), r.max_age(), r.etag()), (Some(50), Some(9), Some(1)));
        e.remove_resource(a).unwrap();
        assert_eq!(e.resource_value(a), Err(Error::Stale));
        assert_eq!(e.set_methods(a, Methods::GET, true), Err(Error::Stale));
        // The slot is reused with a new generation: the old handle stays stale.
        let b = e.add_resource(b"b", None, None, b"1", false).unwrap();
        assert_eq!(b.slot(), a.slot());
        assert_ne!(a, b);
        assert_eq!(e.resource_value(a), Err(Error::Stale));
        assert_eq!(e.resource_value(b).unwrap(), b"1");
        assert_eq!(e.resource_value(ResourceHandle::from_raw(0)), Err(Error::Stale));
        assert_eq!(e.resource_value(ResourceHandle::from_raw(u32::MAX)), Err(Error::Stale));
    }

    #[test]
    fn every_store_bumps_the_etag() {
        let mut e = Boxed::new(0, 1);
        let a = e.add_resource(b"a", None, None, b"x", true).unwrap();
        e.set_resource_value(a, b"x").unwrap();
        e.set_resource_value(a, b"x").unwrap();
        assert_eq!(e.resources.get(a).unwrap().etag(), Some(3));
    }

    #[test]
    fn removal_compacts_arenas_and_keeps_order() {
        let mut e = Boxed::new(0, 1);
        let a = e.add_resource(b"a", None, None, b"AAAA", false).unwrap();
        let b = e.add_resource(b"bb", None, None, b"BB", false).unwrap();
        let c = e.add_resource(b"ccc", None, None, b"C", false).unwrap();
        e.add_attribute(a, b"rt", b"x").unwrap();
        e.add_attribute(b, b"rt", b"y").unwrap();
        e.add_attribute(c, b"if", b"z").unwrap();
        e.add_attribute(a, b"ct", b"0").unwrap();
        e.remove_resource(a).unwrap();
        assert_eq!(e.resources.text.used(), 2 + 3 + 3 + 3);
        assert_eq!(e.resources.values.used(), 3);
        assert_eq!(e.resource_value(b).unwrap(), b"BB");
        assert_eq!(e.resource_value(c).unwrap(), b"C");
        let order: Vec<&[u8]> = e.resources.iter().map(|(_, r)| e.resources.uri(r)).collect();
        assert_eq!(order, [&b"bb"[..], b"ccc"]);
        let attrs: Vec<_> = e.resources.attributes(c).collect();
        assert_eq!(attrs, [(&b"if"[..], &b"z"[..])]);
        // Value replacement moves the value to the end; the others stay.
        e.set_resource_value(b, b"bbbbb").unwrap();
        assert_eq!(e.resource_value(c).unwrap(), b"C");
        assert_eq!(e.resource_value(b).unwrap(), b"bbbbb");
        // A new resource lands at the end of the order.
        let d = e.add_resource(b"d", None, None, b"", false).unwrap();
        assert_eq!(e.resources.iter().last().map(|(h, _)| h), Some(d));
    }

    #[test]
    fn capacities_are_errors_and_change_nothing() {
        let mut e = Boxed::new(0, 1);
        assert_eq!(
            e.add_resource(b"big", None, None, &[0; VALUE_MAX + 1], false),
            Err(Error::ValueTooLarge)
        );
        let mut handles = Vec::new();
        for i in 0..RESOURCES_MAX {
            handles.push(e.add_resource(format!("r{i}").as_bytes(), None, None, b"0", false).unwrap());
        }
        assert_eq!(e.add_resource(b"one-more", None, None, b"0", false), Err(Error::ResourcesFull));
        // Values: fill the arena.
        let big = vec![7u8; VALUE_MAX];
        e.set_resource_value(handles[0], &big).unwrap();
        e.set_resource_value(handles[1], &big).unwrap();
        let room = e.resources.value_room(handles[2]);
        assert!(room < VALUE_MAX);
        assert_eq!(e.set_resource_value(handles[2], &big), Err(Error::ValuesFull));
        assert_eq!(e.resource_value(handles[2]).unwrap(), b"0");
        e.set_resource_value(handles[2], &big[..room]).unwrap();
        assert_eq!(e.resources.values.free(), 0);
        // Attributes.
        for i in 0..ATTRIBUTES_MAX {
            e.add_attribute(handles[i % RESOURCES_MAX], b"n", b"v").unwrap();
        }
        assert_eq!(e.add_attribute(handles[0], b"n", b"v"), Err(Error::AttributesFull));
        assert_eq!(e.add_attribute(handles[0], b"", b"v"), Err(Error::Attribute));
        assert_eq!(e.add_attribute(handles[0], b"a b", b"v"), Err(Error::Attribute));
    }

    #[test]
    fn discovery_document_is_bounded() {
        let mut e = Boxed::new(0, 1);
        let a = e.add_resource(b"a", None, None, b"0", false).unwrap();
        // Each '"' is stored once but written escaped, so the document, not
        // the text storage, is what runs out.
        let quotes = [b'"'; 50];
        let mut added = 0;
        loop {
            match e.add_attribute(a, b"t", &quotes) {
                Ok(()) => added += 1,
                Err(err) => {
                    assert_eq!(err, Error::TextFull);
                    break;
                }
            }
        }
        assert_eq!(added, 10);
        assert!(e.resources.text.free() > 500);
        assert_eq!(e.resources.document_len(), 4 + 10 * (3 + 102));
        // A uri that would overflow it is refused as well.
        let uri = [b'u'; 200];
        assert_eq!(e.add_resource(&uri, None, None, b"", false), Err(Error::TextFull));
        assert_eq!(e.resources.iter().count(), 1);
        e.add_resource(&uri[..70], None, None, b"", false).unwrap();
        assert_eq!(e.resources.document_len(), 1054 + 1 + 73);
    }
}
