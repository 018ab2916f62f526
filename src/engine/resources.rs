//! The resources: a list of nodes in granted storage (see `store.rs`), in
//! the order added.
//!
//! Each resource is one block: a [`ResourceNode`] header followed by its
//! uri and its attributes (`[name_len: u8][value_len: u16 LE][name][value]`
//! each, in the order added). Its value is a block of its own, so storing
//! a value never moves the node, and adding an attribute (rare, at setup)
//! replaces the node by a larger copy. No block is larger than one item,
//! whatever the number of items.

use core::marker::PhantomData;
use core::mem::size_of;
use core::ptr::NonNull;

use super::blockwise as block;
#[cfg(test)]
use super::link_format;
use super::store::{block_size, Link, Reserved};
use super::uri::{strip_slash, valid_resource_uri};
use super::{Engine, Error, Methods, ResourceHandle};
use crate::capacity::{SHRINK_SLACK, VALUE_MAX};

const HAS_MEDIA_TYPE: u8 = 2;
const HAS_MAX_AGE: u8 = 4;
const ETAG_ENABLED: u8 = 8;
/// Observable (RFC 7641): `obs` in discovery, GET with Observe registers.
const OBSERVABLE: u8 = 16;

/// The uri reserved for the generated discovery document.
pub(crate) const WELL_KNOWN_CORE: &[u8] = b".well-known/core";

/// A resource's block starts with this; its uri and attributes follow.
/// `next` is the first field: the GC's mark loop then follows the list
/// without filling its mark stack (docs/internals.md, "Memory").
#[repr(C)]
pub(crate) struct ResourceNode {
    next: Link,
    /// The caller's word (the shim's Python object).
    user: usize,
    /// The value's block (`value_cap` bytes), or none for an empty value.
    value: Link,
    id: u32,
    max_age: u32,
    value_len: u32,
    value_cap: u32,
    /// The value length the application stored last (remote budget).
    app_len: u32,
    uri_len: u32,
    /// Bytes after the header: uri, then attribute records.
    text_len: u32,
    media_type: u16,
    etag: u16,
    flags: u8,
    methods: u8,
}

const HEADER: usize = size_of::<ResourceNode>();
/// Bytes of an attribute record before its name and value.
const ATTRIBUTE_HEADER: usize = 3;

impl ResourceNode {
    pub(crate) fn handle(&self) -> ResourceHandle {
        ResourceHandle::from_raw(self.id)
    }
    pub(crate) fn user(&self) -> usize {
        self.user
    }
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
    /// The ETag counter, kept even when ETags are off: every Block2 answer
    /// carries it (RFC 7959 §2.4), so a client notices a value that
    /// changed between blocks.
    pub(crate) fn etag_counter(&self) -> u16 {
        self.etag
    }
    pub(crate) fn observable(&self) -> bool {
        self.flags & OBSERVABLE != 0
    }
    pub(crate) fn set_observable(&mut self, on: bool) {
        self.flags = if on { self.flags | OBSERVABLE } else { self.flags & !OBSERVABLE };
    }
    pub(crate) fn allows(&self, method: Methods) -> bool {
        u32::from(self.methods) & method.0 != 0
    }

    /// The bytes after the header: uri, then attribute records.
    fn text(&self) -> &[u8] {
        // SAFETY: a node is the start of a block of `HEADER + text_len`
        // bytes (`commit_node` writes it so), alive while `self` is.
        unsafe { core::slice::from_raw_parts((self as *const Self).cast::<u8>().add(HEADER), self.text_len as usize) }
    }

    pub(crate) fn uri(&self) -> &[u8] {
        self.text().get(..self.uri_len as usize).unwrap_or(&[])
    }

    pub(crate) fn value(&self) -> &[u8] {
        match self.value {
            // SAFETY: the value block holds `value_cap >= value_len` bytes.
            Some(v) => unsafe { core::slice::from_raw_parts(v.as_ptr(), self.value_len as usize) },
            None => &[],
        }
    }

    /// The attributes, `(name, value)`, in the order added.
    pub(crate) fn attributes(&self) -> Attributes<'_> {
        Attributes(self.text().get(self.uri_len as usize..).unwrap_or(&[]))
    }

    /// This resource's share of the remote budget.
    fn remote_share(&self) -> u32 {
        self.value_len.saturating_sub(self.app_len)
    }

    fn block_len(&self) -> usize {
        block_size(HEADER + self.text_len as usize)
    }

    /// A copy of everything about this resource (see `snapshot.rs`).
    #[cfg(any(test, feature = "std"))]
    pub(crate) fn state(&self) -> super::snapshot::ResourceState {
        super::snapshot::ResourceState {
            id: self.id,
            user: self.user,
            uri: self.uri().to_vec(),
            value: self.value().to_vec(),
            value_cap: self.value_cap,
            attributes: self.attributes().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
            media_type: self.media_type(),
            max_age: self.max_age(),
            etag: self.etag,
            flags: self.flags,
            methods: self.methods,
            app_len: self.app_len,
            node_at: self as *const Self as usize,
            value_at: self.value.map_or(0, |v| v.as_ptr() as usize),
        }
    }
}

/// The attribute records of a node.
pub(crate) struct Attributes<'a>(&'a [u8]);

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let (&[n, lo, hi], rest) = self.0.split_first_chunk::<ATTRIBUTE_HEADER>()?;
        let (n, v) = (usize::from(n), usize::from(u16::from_le_bytes([lo, hi])));
        let name = rest.get(..n)?;
        let value = rest.get(n..n + v)?;
        self.0 = rest.get(n + v..).unwrap_or(&[]);
        Some((name, value))
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

/// RFC 6690 `parmname`: RFC 5987 attr-char without `*`, `'` and `%`.
fn valid_attribute_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.iter().all(|b| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(b))
}

/// The list head; the nodes live in granted blocks.
pub(crate) struct Resources {
    head: Link,
}

/// Resources in the order added.
pub(crate) struct Iter<'a> {
    next: Link,
    _list: PhantomData<&'a Resources>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a ResourceNode;
    fn next(&mut self) -> Option<&'a ResourceNode> {
        let p = self.next?;
        // SAFETY: every link of the list points at a live node block (see
        // `node`), which the list (borrowed for 'a) keeps.
        let n = unsafe { node(p) };
        self.next = n.next;
        Some(n)
    }
}

/// The node at `p`.
///
/// # Safety
/// `p` is a link of the resource list (a block that starts with a
/// [`ResourceNode`] written by `commit_node`), and stays linked for 'a.
unsafe fn node<'a>(p: NonNull<u8>) -> &'a ResourceNode {
    // SAFETY: per the function's contract; blocks are word-aligned.
    unsafe { &*p.as_ptr().cast::<ResourceNode>() }
}

/// A node found by a lookup, kept across a `&mut Engine` call that does
/// not change the list (a served GET takes its Message ID in between).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeRef(NonNull<u8>);

impl NodeRef {
    /// # Safety
    /// The node has not been unlinked since the lookup that made `self`.
    pub(crate) unsafe fn get<'a>(self) -> &'a ResourceNode {
        // SAFETY: per the function's contract.
        unsafe { node(self.0) }
    }
}

impl Resources {
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter { next: self.head, _list: PhantomData }
    }

    /// The resource `h`.
    pub(crate) fn get(&self, h: ResourceHandle) -> Result<&ResourceNode, Error> {
        self.iter().find(|r| r.id == h.raw() && h.raw() != 0).ok_or(Error::Stale)
    }

    /// The link slot that points at the node `id` (for unlinking or
    /// replacing it), and the node.
    fn slot_of(&mut self, id: u32) -> Option<(*mut Link, NonNull<u8>)> {
        let mut slot: *mut Link = &mut self.head;
        loop {
            // SAFETY: `slot` is the list head or the `next` field of a live
            // node; both are valid for reads and writes.
            let p = unsafe { *slot }?;
            // SAFETY: `p` is a link of the list.
            let n = unsafe { node(p) };
            if n.id == id && id != 0 {
                return Some((slot, p));
            }
            // SAFETY: `p` is a live node block; `next` is its first field.
            slot = unsafe { &raw mut (*p.as_ptr().cast::<ResourceNode>()).next };
        }
    }

    pub(crate) fn get_mut(&mut self, h: ResourceHandle) -> Result<&mut ResourceNode, Error> {
        let (_, p) = self.slot_of(h.raw()).ok_or(Error::Stale)?;
        // SAFETY: `p` is a live node, reached through `&mut self`.
        Ok(unsafe { &mut *p.as_ptr().cast::<ResourceNode>() })
    }

    /// The resource whose uri is `uri` (leading `/` already stripped).
    pub(crate) fn find(&self, uri: &[u8]) -> Option<&ResourceNode> {
        self.iter().find(|r| r.uri() == uri)
    }

    /// The resource whose uri equals the Uri-Path values joined by `/`.
    pub(crate) fn find_by_path(&self, path: &super::options::RequestPath<'_>) -> Option<NodeRef> {
        let mut next = self.head;
        while let Some(p) = next {
            // SAFETY: `p` is a link of the list.
            let n = unsafe { node(p) };
            if path.matches(n.uri()) {
                return Some(NodeRef(p));
            }
            next = n.next;
        }
        None
    }

    /// The resource with number `id`, as a lookup result.
    pub(crate) fn find_ref(&self, id: u32) -> Option<(NodeRef, &ResourceNode)> {
        let mut next = self.head;
        while let Some(p) = next {
            // SAFETY: `p` is a link of the list.
            let n = unsafe { node(p) };
            if n.id == id {
                return Some((NodeRef(p), n));
            }
            next = n.next;
        }
        None
    }

    fn contains(&self, id: u32) -> bool {
        self.iter().any(|r| r.id == id)
    }

    /// The last link slot (to append).
    fn tail_slot(&mut self) -> *mut Link {
        let mut slot: *mut Link = &mut self.head;
        // SAFETY: as in `slot_of`.
        while let Some(p) = unsafe { *slot } {
            slot = unsafe { &raw mut (*p.as_ptr().cast::<ResourceNode>()).next };
        }
        slot
    }
}

/// Copies `head` and then `value` (one value: `head` is the bytes a Block1
/// transfer received before its last block) into a fresh value block, in
/// place, or into the transfer's own block (which `head` lies in); returns
/// the old block to release, if any. `r` is the reservation of a plan made
/// by [`value_plan`], taken at index `i`.
fn commit_value(n: &mut ResourceNode, head: &[u8], value: &[u8], r: &mut Reserved, i: usize, in_place: bool) -> Option<(NonNull<u8>, usize)> {
    let old = n.value.map(|b| (b, n.value_cap as usize));
    let len = head.len() + value.len();
    let plan = if in_place { 0 } else { value_plan(n, len) };
    let (dst, cap, old) = match (plan, n.value) {
        (0, Some(b)) if len != 0 => (b, n.value_cap as usize, None),
        (0, _) => {
            n.value = None;
            n.value_cap = 0;
            n.value_len = 0;
            n.etag = next_etag(n.etag);
            return old;
        }
        (_, _) => match r.take(i) {
            Some((b, size)) => (b, size, old),
            // Never happens: the plan asked for this block.
            None => return None,
        },
    };
    // SAFETY: `dst` is a value block of `cap >= len` bytes (the plan sized
    // it, or the in-place or spare rule checked it). `head` may lie in it
    // (a transfer's own block: a move toward its start), `value` does not
    // (the caller's or a datagram's bytes).
    unsafe {
        core::ptr::copy(head.as_ptr(), dst.as_ptr(), head.len());
        core::ptr::copy_nonoverlapping(value.as_ptr(), dst.as_ptr().add(head.len()), value.len());
        // Clear what a shorter value leaves behind (the GC scans it).
        dst.as_ptr().add(len).write_bytes(0, cap - len);
    }
    n.value = Some(dst);
    n.value_cap = cap as u32;
    n.value_len = len as u32;
    n.etag = next_etag(n.etag);
    old
}

/// The block a value of `len` bytes needs, or 0 when it needs none: empty,
/// or stored in place (the current block holds it and is not more than
/// [`SHRINK_SLACK`] larger than a new one would be).
fn value_plan(n: &ResourceNode, len: usize) -> usize {
    let cap = n.value_cap as usize;
    if len == 0 || (n.value.is_some() && len <= cap && cap < block_size(len) + SHRINK_SLACK) {
        0
    } else {
        block_size(len)
    }
}

impl Engine {
    /// A fresh handle number for a resource: never 0, never one in use.
    fn fresh_resource_id(&mut self) -> u32 {
        loop {
            let id = self.next_id;
            self.next_id = id.wrapping_add(1);
            if id != 0 && !self.resources.contains(id) {
                return id;
            }
        }
    }

    /// Adds a resource (`add_resource`). One leading `/` of `uri` is
    /// ignored. It answers 4.05 to every method until enabled with
    /// [`Engine::set_methods`]. Its ETag starts at 1 (the initial store).
    /// Storage: the node and the value block ([`Error::NeedStorage`]).
    ///
    /// Errors, in the order checked: [`Error::Uri`], [`Error::Exists`] (also
    /// for `.well-known/core`), [`Error::ValueTooLarge`], then
    /// [`Error::NeedStorage`] / [`Error::NoMemory`].
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Heap, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let mut heap = Heap::default();
    /// let h = heap.run(engine, |e| e.add_resource(b"/sensors/temp", Some(0), Some(60), b"0", true))?;
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
        self.add_resource_with_user(uri, media_type, max_age, value, etag, 0)
    }

    /// [`Engine::add_resource`], storing the caller's word `user` with the
    /// resource (see [`Engine::resource_user`]).
    pub fn add_resource_with_user(
        &mut self,
        uri: &[u8],
        media_type: Option<u16>,
        max_age: Option<u32>,
        value: &[u8],
        etag: bool,
        user: usize,
    ) -> Result<ResourceHandle, Error> {
        let uri = strip_slash(uri);
        if !valid_resource_uri(uri) || uri.len() > u32::MAX as usize / 2 {
            return Err(Error::Uri);
        }
        if uri == WELL_KNOWN_CORE || self.resources.find(uri).is_some() {
            return Err(Error::Exists);
        }
        if value.len() > VALUE_MAX {
            return Err(Error::ValueTooLarge);
        }
        let node_len = HEADER + uri.len();
        let value_len = if value.is_empty() { 0 } else { block_size(value.len()) };
        let mut r = self.store.reserve(&[node_len, value_len])?;
        let Some((block, _)) = r.take(0) else { return Err(Error::NoMemory) };
        let id = self.fresh_resource_id();
        let mut flags = 0;
        if media_type.is_some() {
            flags |= HAS_MEDIA_TYPE;
        }
        if max_age.is_some() {
            flags |= HAS_MAX_AGE;
        }
        if etag {
            flags |= ETAG_ENABLED;
        }
        // SAFETY: `block` is a fresh, zeroed, word-aligned block of at least
        // `HEADER + uri.len()` bytes, and all-zero is a valid node (no
        // value, no link). The fields are set one by one below, not by
        // writing a whole node, which would copy its padding from the
        // stack (see `List::append`).
        let n = unsafe {
            let p = block.as_ptr();
            core::ptr::copy_nonoverlapping(uri.as_ptr(), p.add(HEADER), uri.len());
            &mut *p.cast::<ResourceNode>()
        };
        n.user = user;
        n.id = id;
        n.max_age = max_age.unwrap_or(0);
        n.app_len = value.len() as u32;
        n.uri_len = uri.len() as u32;
        n.text_len = uri.len() as u32;
        n.media_type = media_type.unwrap_or(0);
        n.flags = flags;
        let _ = commit_value(n, &[], value, &mut r, 1, false);
        n.etag = 1;
        let tail = self.resources.tail_slot();
        // SAFETY: `tail` is the list's last link slot (the head or a live
        // node's `next`).
        unsafe { *tail = Some(block) };
        self.links_changed();
        Ok(ResourceHandle::from_raw(id))
    }

    /// The resource with this uri (one leading `/` ignored), if any.
    pub fn find_resource(&self, uri: &[u8]) -> Option<ResourceHandle> {
        self.resources.find(strip_slash(uri)).map(ResourceNode::handle)
    }

    /// The caller's word stored with resource `h`.
    pub fn resource_user(&self, h: ResourceHandle) -> Result<usize, Error> {
        self.resources.get(h).map(ResourceNode::user)
    }

    /// The word of the `index`-th resource in the order added.
    pub fn resource_user_at(&self, index: usize) -> Option<usize> {
        self.resources.iter().nth(index).map(ResourceNode::user)
    }

    /// Removes a resource; its handle becomes stale, its storage is given
    /// back ([`Engine::storage_take`]). (A remote DELETE does the same and
    /// reports [`Event::ResourceDeleted`](super::Event).)
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Heap, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// # let mut heap = Heap::default();
    /// let h = heap.run(engine, |e| e.add_resource(b"a", None, None, b"0", false))?;
    /// engine.remove_resource(h)?;
    /// assert_eq!(engine.find_resource(b"a"), None);
    /// assert_eq!(engine.remove_resource(h), Err(Error::Stale));
    /// assert!(engine.storage_take().is_some());
    /// # heap.collect(engine);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn remove_resource(&mut self, h: ResourceHandle) -> Result<(), Error> {
        let (slot, p) = self.resources.slot_of(h.raw()).ok_or(Error::Stale)?;
        // SAFETY: `slot` points at `p`; unlinking it makes `p` unreachable.
        let n = unsafe {
            let n = &*p.as_ptr().cast::<ResourceNode>();
            *slot = n.next;
            n
        };
        self.store.remote_used = self.store.remote_used.saturating_sub(n.remote_share());
        let (value, cap, len) = (n.value, n.value_cap as usize, n.block_len());
        if let Some(v) = value {
            self.store.release(v, cap);
        }
        self.store.release(p, len);
        self.links_changed();
        let id = h.raw();
        self.drop_transfers(super::blockwise::Which::Resource(id));
        self.observed_gone(id);
        Ok(())
    }

    /// The resource's current value.
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Heap, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// # let mut heap = Heap::default();
    /// let h = heap.run(engine, |e| e.add_resource(b"a", None, None, b"0", false))?;
    /// heap.run(engine, |e| e.set_resource_value(h, b"on"))?;
    /// assert_eq!(engine.resource_value(h)?, b"on");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn resource_value(&self, h: ResourceHandle) -> Result<&[u8], Error> {
        self.resources.get(h).map(ResourceNode::value)
    }

    /// Replaces the value; every store increments the ETag, even with the
    /// same bytes. Errors: [`Error::Stale`], [`Error::ValueTooLarge`], then
    /// [`Error::NeedStorage`] / [`Error::NoMemory`] (a value that grows, or
    /// shrinks by more than [`SHRINK_SLACK`], gets a new block). The
    /// application's store resets the resource's share of the remote budget.
    pub fn set_resource_value(&mut self, h: ResourceHandle, value: &[u8]) -> Result<(), Error> {
        self.store_value(h, &[], value, true, None)
    }

    /// Stores a value, `head` then `value` (see [`commit_value`]): by the
    /// application (`app`) or by a peer (PUT/POST, whose budget the caller
    /// has checked). `spare` is the block of the Block1 transfer whose
    /// bytes `head` is: when the heap has no block for the value, the
    /// transfer leaves its list and the value is stored in its block
    /// instead (giving memory back never fails), if it is large enough.
    pub(crate) fn store_value(
        &mut self,
        h: ResourceHandle,
        head: &[u8],
        value: &[u8],
        app: bool,
        spare: Link,
    ) -> Result<(), Error> {
        let n = self.resources.get(h)?;
        let len = head.len() + value.len();
        if len > VALUE_MAX {
            return Err(Error::ValueTooLarge);
        }
        let plan = value_plan(n, len);
        // A smaller value fits its current block: giving memory back never
        // fails, so when the smaller block is refused it is stored in place
        // (the tail cleared) and the block is kept as it is.
        let shrinking = plan != 0 && n.value.is_some() && len <= n.value_cap as usize;
        // A transfer's block sized for the value (its Size1 announced it)
        // becomes it at once: no second block, no copy but the move over
        // its node.
        let snug = plan != 0 && spare.is_some_and(|b| block::snug(b, len));
        let reserved = if snug { Err(Error::NoMemory) } else { self.store.reserve(&[plan]) };
        let (mut r, in_place) = match reserved {
            Ok(r) => (r, false),
            Err(Error::NoMemory) => match spare.and_then(|b| self.take_spare(b, len)) {
                Some((b, size)) => (Reserved::of(b, size), false),
                None if shrinking => (Reserved::none(), true),
                None => return Err(Error::NoMemory),
            },
            Err(e) => return Err(e),
        };
        let n = self.resources.get_mut(h)?;
        let before = n.remote_share();
        let old = commit_value(n, head, value, &mut r, 0, in_place);
        if app {
            n.app_len = len as u32;
        }
        let after = n.remote_share();
        if let Some((b, size)) = old {
            self.store.release(b, size);
        }
        self.store.remote_used = self.store.remote_used.saturating_sub(before).saturating_add(after);
        self.observed_changed(h.raw());
        Ok(())
    }

    /// The largest value a peer may store in `h` now (Size1 of 4.13): the
    /// remote budget left, plus what the application stored last, plus the
    /// resource's own share; at most [`VALUE_MAX`].
    pub(crate) fn remote_room(&self, n: &ResourceNode) -> usize {
        self.remote_room_but(n, 0)
    }

    /// [`Engine::remote_room`] when `held` more bytes (other Block1
    /// transfers in progress) count against the budget.
    pub(crate) fn remote_room_but(&self, n: &ResourceNode, held: usize) -> usize {
        let others = self.store.remote_used.saturating_sub(n.remote_share());
        // Saturating: on a 32-bit target a budget near u32::MAX plus the
        // application's length would wrap to a tiny room.
        let room = (self.store.remote_budget.saturating_sub(others) as usize)
            .saturating_sub(held)
            .saturating_add(n.app_len as usize);
        room.min(VALUE_MAX)
    }

    /// Adds an attribute shown in `/.well-known/core` (in the order added).
    /// Storage: the resource's node is replaced by a larger copy.
    /// Errors: [`Error::Stale`], [`Error::Attribute`] (a bad name, or a
    /// value over 65535 bytes), then [`Error::NeedStorage`] /
    /// [`Error::NoMemory`].
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Heap, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// # let mut heap = Heap::default();
    /// let h = heap.run(engine, |e| e.add_resource(b"a", None, None, b"0", false))?;
    /// heap.run(engine, |e| e.add_attribute(h, b"ct", b"0"))?;
    /// assert_eq!(engine.add_attribute(h, b"bad name", b"x"), Err(Error::Attribute));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn add_attribute(&mut self, h: ResourceHandle, name: &[u8], value: &[u8]) -> Result<(), Error> {
        let old = self.resources.get(h)?;
        if !valid_attribute_name(name) || value.len() > usize::from(u16::MAX) {
            return Err(Error::Attribute);
        }
        let text_len = old.text_len as usize + ATTRIBUTE_HEADER + name.len() + value.len();
        let mut r = self.store.reserve(&[HEADER + text_len])?;
        let Some((block, _)) = r.take(0) else { return Err(Error::NoMemory) };
        let (slot, p) = self.resources.slot_of(h.raw()).ok_or(Error::Stale)?;
        // SAFETY: `p` is the live node (`HEADER + text_len` bytes), `block`
        // a fresh, zeroed block of at least `HEADER + text_len` bytes (the
        // new length); they do not overlap. The node is moved: its header
        // and text are copied, the attribute appended, and the link that
        // pointed at the old block now points at the new one.
        let old_len = unsafe {
            let old = &*p.as_ptr().cast::<ResourceNode>();
            let old_text = HEADER + old.text_len as usize;
            let old_len = old.block_len();
            core::ptr::copy_nonoverlapping(p.as_ptr(), block.as_ptr(), old_text);
            let mut at = block.as_ptr().add(old_text);
            let [lo, hi] = (value.len() as u16).to_le_bytes();
            for part in [&[name.len() as u8, lo, hi][..], name, value] {
                core::ptr::copy_nonoverlapping(part.as_ptr(), at, part.len());
                at = at.add(part.len());
            }
            (*block.as_ptr().cast::<ResourceNode>()).text_len = text_len as u32;
            *slot = Some(block);
            old_len
        };
        self.store.release(p, old_len);
        self.links_changed();
        Ok(())
    }

    /// Enables or disables methods (`callback(operation, ..., enable)`).
    /// [`Error::Operation`] if the mask has bits outside the four flags.
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Engine, Error, Heap, Instant, Methods};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// # let mut heap = Heap::default();
    /// let h = heap.run(engine, |e| e.add_resource(b"a", None, None, b"0", false))?;
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

    /// Length of the unfiltered `/.well-known/core` document.
    #[cfg(test)]
    pub(crate) fn document_len(&self) -> usize {
        link_format::document_len(&self.resources)
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
    fn next_is_the_first_field() {
        assert_eq!(core::mem::offset_of!(ResourceNode, next), 0);
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
        let r = e.resources.get(a).unwrap();
        assert_eq!((r.media_type(), r.max_age(), r.etag()), (Some(50), Some(9), Some(1)));
        e.remove_resource(a).unwrap();
        assert_eq!(e.resource_value(a), Err(Error::Stale));
        assert_eq!(e.set_methods(a, Methods::GET, true), Err(Error::Stale));
        // A new resource gets a new handle: the old one stays stale.
        let b = e.add_resource(b"b", None, None, b"1", false).unwrap();
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
        // Empty and back.
        e.set_resource_value(a, b"").unwrap();
        e.set_resource_value(a, b"yy").unwrap();
        assert_eq!(e.resources.get(a).unwrap().etag(), Some(5));
        assert_eq!(e.resource_value(a).unwrap(), b"yy");
    }

    #[test]
    fn removal_keeps_order_and_gives_storage_back() {
        let mut e = Boxed::new(0, 1);
        let a = e.add_resource(b"a", None, None, b"AAAA", false).unwrap();
        let b = e.add_resource(b"bb", None, None, b"BB", false).unwrap();
        let c = e.add_resource(b"ccc", None, None, b"C", false).unwrap();
        e.add_attribute(a, b"rt", b"x").unwrap();
        e.add_attribute(b, b"rt", b"y").unwrap();
        e.add_attribute(c, b"if", b"z").unwrap();
        e.add_attribute(a, b"ct", b"0").unwrap();
        e.remove_resource(a).unwrap();
        assert_eq!(e.resource_value(b).unwrap(), b"BB");
        assert_eq!(e.resource_value(c).unwrap(), b"C");
        let order: Vec<&[u8]> = e.resources.iter().map(|r| r.uri()).collect();
        assert_eq!(order, [&b"bb"[..], b"ccc"]);
        let attrs: Vec<_> = e.resources.get(c).unwrap().attributes().collect();
        assert_eq!(attrs, [(&b"if"[..], &b"z"[..])]);
        e.set_resource_value(b, b"bbbbb").unwrap();
        assert_eq!(e.resource_value(c).unwrap(), b"C");
        assert_eq!(e.resource_value(b).unwrap(), b"bbbbb");
        // A new resource lands at the end of the order.
        let d = e.add_resource(b"d", None, None, b"", false).unwrap();
        assert_eq!(e.resources.iter().last().map(|r| r.handle()), Some(d));
        for h in [b, c, d] {
            e.remove_resource(h).unwrap();
        }
        e.collect();
        assert_eq!((e.heap.live_blocks(), e.storage_stats().blocks, e.storage_stats().bytes), (0, 0, 0));
    }

    #[test]
    fn no_table_limits() {
        let mut e = Boxed::new(0, 1);
        assert_eq!(
            e.add_resource(b"big", None, None, &[0; VALUE_MAX + 1], false),
            Err(Error::ValueTooLarge)
        );
        let big = vec![7u8; VALUE_MAX];
        let mut handles = Vec::new();
        for i in 0..200 {
            let h = e.add_resource(format!("r{i}").as_bytes(), None, None, &big, false).unwrap();
            e.add_attribute(h, b"rt", &[b'x'; 200]).unwrap();
            handles.push(h);
        }
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(e.resource_value(*h).unwrap(), &big[..]);
            assert_eq!(e.find_resource(format!("r{i}").as_bytes()), Some(*h));
        }
        // The unfiltered document is longer than one message now.
        assert!(e.document_len() > crate::capacity::MESSAGE_MAX);
    }

    #[test]
    fn values_shrink_in_place_only_within_the_slack() {
        let mut e = Boxed::new(0, 1);
        let a = e.add_resource(b"a", None, None, &[1; 100], false).unwrap();
        let blocks = e.heap.allocations();
        e.set_resource_value(a, &[2; 90]).unwrap();
        assert_eq!(e.heap.allocations(), blocks, "in place");
        e.set_resource_value(a, b"x").unwrap();
        assert_eq!(e.heap.allocations(), blocks + 1, "a much smaller value gets a smaller block");
        assert_eq!(e.resource_value(a).unwrap(), b"x");
    }

    #[test]
    fn a_smaller_value_is_stored_even_when_its_block_is_refused() {
        let mut e = Boxed::new(0, 1);
        let a = e.add_resource(b"a", None, None, &[1; 100], true).unwrap();
        let bytes = e.storage_stats().bytes;
        e.heap.fail_at = Some(e.heap.allocations() + 1);
        e.set_resource_value(a, b"xy").unwrap();
        assert_eq!(e.resource_value(a).unwrap(), b"xy");
        assert_eq!(e.resources.get(a).unwrap().etag(), Some(2));
        assert_eq!(e.storage_stats().bytes, bytes, "kept its block");
        // The tail is cleared: nothing of the old value stays behind.
        let n = e.resources.get(a).unwrap();
        // SAFETY: the value block holds value_cap bytes.
        let block = unsafe { core::slice::from_raw_parts(n.value.unwrap().as_ptr(), n.value_cap as usize) };
        assert!(block[2..].iter().all(|b| *b == 0));
        // A larger one is refused as before.
        e.heap.fail_at = Some(e.heap.allocations() + 1);
        assert_eq!(e.set_resource_value(a, &[3; 500]), Err(Error::NoMemory));
        assert_eq!(e.resource_value(a).unwrap(), b"xy");
    }
}
