//! Storage the engine is given: the "need n bytes" protocol of
//! `mod/mpcoap.h` ("storage") and the blocks it hands back.
//!
//! The engine never allocates. Every item the application or a peer adds
//! (a resource with its uri and attributes, a value, a session, a request
//! and its encoded bytes) lives in a block of its own that the caller
//! grants. A call that needs blocks runs in three phases, and the types keep
//! them apart:
//!
//! 1. **check and plan**, changing nothing: every error the call can return,
//!    then the sizes of the blocks it needs (at most [`PLAN_MAX`]);
//! 2. **reserve** ([`Store::reserve`]): if planned blocks have not been
//!    granted yet, the call returns [`Error::NeedStorage`], still having
//!    changed nothing, and [`Engine::storage_need`] names them one by one:
//!    the caller grants a block of each size ([`Engine::storage_grant`])
//!    until it names none, then repeats the call once; after
//!    [`Engine::storage_refuse`], the repeat returns [`Error::NoMemory`].
//!    This is the last point where the call can fail;
//! 3. **commit**: functions that take the [`Reserved`] blocks return no
//!    `Result`, so nothing after the first write can fail.
//!
//! Blocks no longer used are cleared and put on the released chain (linked
//! through their own first word); the caller takes them back with
//! [`Engine::storage_take`] after each call. The engine keeps pointers only
//! to the start of granted blocks, in pointer-aligned fields of its own
//! block or of granted blocks: a conservative scan that starts at the
//! engine (MicroPython's GC) reaches every block in use.

use core::ptr::NonNull;

use super::{Engine, Error};

/// A pointer to a granted block, or none.
pub(crate) type Link = Option<NonNull<u8>>;

/// Most blocks one call asks for: a resource and its value, or a request
/// and its encoded bytes.
pub(crate) const PLAN_MAX: usize = 2;

const WORD: usize = core::mem::size_of::<usize>();

/// The size of the block that holds `n` bytes: whole words, and at least
/// two (a released block holds its chain link and its size).
pub(crate) const fn block_size(n: usize) -> usize {
    let n = n.div_ceil(WORD) * WORD;
    if n < 2 * WORD {
        2 * WORD
    } else {
        n
    }
}

/// A node type kept in a [`List`].
///
/// # Safety
/// The type is `#[repr(C)]` with `next: Link` as its first field (offset
/// 0), and the all-zero bit pattern is a valid value. `next` first also
/// keeps the GC's mark stack shallow along a long list (docs/internals.md,
/// "Memory").
pub(crate) unsafe trait Node: Sized {}

/// A singly linked list of nodes of type `T` in granted blocks, in the
/// order appended. The list owns its blocks: a node is alive while linked.
pub(crate) struct List<T: Node> {
    head: Link,
    _t: core::marker::PhantomData<T>,
}

impl<T: Node> List<T> {
    /// The first node.
    pub(crate) fn first(&self) -> Option<&T> {
        self.iter().next()
    }

    pub(crate) fn iter(&self) -> ListIter<'_, T> {
        ListIter { next: self.head, _list: core::marker::PhantomData }
    }

    /// The first node that `pred` accepts, writable.
    pub(crate) fn find_mut(&mut self, pred: impl FnMut(&T) -> bool) -> Option<&mut T> {
        // SAFETY: a live node block of the list, which starts with a `T`
        // (`Node`), reached through `&mut self`.
        self.find_block(pred).map(|p| unsafe { &mut *p.as_ptr().cast::<T>() })
    }

    /// The block of the first node that `pred` accepts.
    pub(crate) fn find_block(&self, mut pred: impl FnMut(&T) -> bool) -> Link {
        let mut next = self.head;
        while let Some(p) = next {
            // SAFETY: every link of the list is a live block that starts
            // with a `T` (`Node`); read only.
            if pred(unsafe { &*p.as_ptr().cast::<T>() }) {
                return Some(p);
            }
            next = link_of(p);
        }
        None
    }

    /// Makes the zeroed `block` a node, sets its fields with `init`, and
    /// appends it. `init` sets fields one by one: writing a whole node
    /// would copy its padding from the stack, and stale bytes that look
    /// like heap addresses in a granted block keep garbage alive (the GC
    /// scans it conservatively).
    pub(crate) fn append(&mut self, block: NonNull<u8>, init: impl FnOnce(&mut T)) -> &mut T {
        let mut slot: *mut Link = &mut self.head;
        // SAFETY: `slot` is the head or the `next` field (offset 0) of a
        // live node: valid for reads and writes.
        unsafe {
            while let Some(p) = *slot {
                slot = p.as_ptr().cast::<Link>();
            }
            *slot = Some(block);
        }
        // SAFETY: `block` is a fresh, zeroed, word-aligned block of at
        // least `size_of::<T>()` bytes (the caller reserved it so), and
        // all-zero is a valid `T` (`Node`).
        let n = unsafe { &mut *block.as_ptr().cast::<T>() };
        init(n);
        // SAFETY: `next` is the first field. A node's own `next` is always
        // none when appended.
        unsafe { block.as_ptr().cast::<Link>().write(None) };
        n
    }

    /// Calls `f` on every node, writable, in order.
    pub(crate) fn for_each_mut(&mut self, mut f: impl FnMut(&mut T)) {
        let mut next = self.head;
        while let Some(p) = next {
            // SAFETY: as in `find_block`, through `&mut self`.
            f(unsafe { &mut *p.as_ptr().cast::<T>() });
            next = link_of(p);
        }
    }

    /// Unlinks the first node that `pred` accepts and returns its block
    /// (still holding the node, for the caller to read and release).
    pub(crate) fn unlink(&mut self, mut pred: impl FnMut(&T) -> bool) -> Option<NonNull<u8>> {
        let mut slot: *mut Link = &mut self.head;
        loop {
            // SAFETY: as in `append`.
            let p = unsafe { *slot }?;
            // SAFETY: `p` is a live node of the list.
            if pred(unsafe { &*p.as_ptr().cast::<T>() }) {
                // SAFETY: `slot` points at `p`; skipping `p` unlinks it.
                unsafe { *slot = link_of(p) };
                return Some(p);
            }
            slot = p.as_ptr().cast::<Link>();
        }
    }
}

/// The `next` link of the node at `p`.
fn link_of(p: NonNull<u8>) -> Link {
    // SAFETY: `p` is a live node block; `next` is its first field.
    unsafe { p.as_ptr().cast::<Link>().read() }
}

/// The nodes of a [`List`], in order.
pub(crate) struct ListIter<'a, T: Node> {
    next: Link,
    _list: core::marker::PhantomData<&'a List<T>>,
}

impl<'a, T: Node> Iterator for ListIter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        let p = self.next?;
        self.next = link_of(p);
        // SAFETY: a live node of the list, which is borrowed for 'a.
        Some(unsafe { &*p.as_ptr().cast::<T>() })
    }
}

/// The node in block `p`, unlinked by [`List::unlink`] and not yet released.
pub(crate) fn unlinked<T: Node + Copy>(p: NonNull<u8>) -> T {
    // SAFETY: `p` came from `List::unlink` of a `List<T>`.
    unsafe { p.as_ptr().cast::<T>().read() }
}

/// What the engine holds: blocks granted and not yet taken back, the
/// remote budget and its use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StorageStats {
    /// Granted blocks the engine holds (in use, spare or released).
    pub blocks: u32,
    /// Their sizes, summed.
    pub bytes: u32,
    /// Bytes counted against the remote budget.
    pub remote_bytes: u32,
    /// The remote budget.
    pub remote_budget: u32,
}

/// The storage state inside the [`Engine`]. All-zero is a valid, empty
/// store (no spares, nothing released).
pub(crate) struct Store {
    /// Blocks granted for the call being repeated, in the order of the
    /// plan's non-empty entries.
    spare: [Link; PLAN_MAX],
    spare_size: [u32; PLAN_MAX],
    /// Blocks to give back, linked through their first word.
    released: Link,
    /// Sizes of the blocks the last call asked for and has not been
    /// granted yet, first one first (0: none).
    need: [u32; PLAN_MAX],
    /// The caller could not supply: the repeated call fails.
    refused: bool,
    blocks: u32,
    bytes: u32,
    /// Bytes counted against the remote budget (see `resources.rs`).
    pub(crate) remote_used: u32,
    pub(crate) remote_budget: u32,
}

/// Blocks reserved for one call's commit, in plan order. Each is zeroed and
/// at least as large as planned ([`block_size`]).
pub(crate) struct Reserved {
    blocks: [Link; PLAN_MAX],
    sizes: [u32; PLAN_MAX],
}

impl Reserved {
    /// No blocks (a commit that needs none).
    pub(crate) const fn none() -> Reserved {
        Reserved { blocks: [None; PLAN_MAX], sizes: [0; PLAN_MAX] }
    }

    /// A block the caller owns, as if reserved at index 0: a Block1
    /// transfer's own block, which becomes a value when the heap has no
    /// other (see `Engine::store_value`).
    pub(crate) const fn of(block: NonNull<u8>, size: usize) -> Reserved {
        Reserved { blocks: [Some(block), None], sizes: [size as u32, 0] }
    }

    /// Planned block `i` and its size. Commit code takes every block it
    /// planned, so none is lost; a block not taken is a bug that leaks.
    pub(crate) fn take(&mut self, i: usize) -> Option<(NonNull<u8>, usize)> {
        let b = self.blocks.get_mut(i)?.take()?;
        Some((b, self.sizes.get(i).map_or(0, |s| *s as usize)))
    }
}

impl Store {
    /// Reserves blocks of the planned sizes (see the module docs). Sizes
    /// of 0 are skipped (nothing to store) and give `None` at commit.
    pub(crate) fn reserve(&mut self, plan: &[usize]) -> Result<Reserved, Error> {
        if self.refused {
            self.refused = false;
            self.need = [0; PLAN_MAX];
            self.release_spares();
            return Err(Error::NoMemory);
        }
        // The plan's non-empty sizes, in order: spare `j` holds the j-th.
        let mut sizes = [0u32; PLAN_MAX];
        let mut count = 0;
        for &n in plan.iter().filter(|n| **n > 0) {
            if let Some(s) = sizes.get_mut(count) {
                *s = block_size(n) as u32;
                count += 1;
            }
        }
        let mut missing = 0;
        for j in 0..count {
            let (Some(slot), Some(slot_size), Some(&size)) = (self.spare.get_mut(j), self.spare_size.get(j), sizes.get(j))
            else {
                break;
            };
            match slot {
                Some(_) if *slot_size == size => continue,
                Some(b) => {
                    // Granted for another plan (the caller did not repeat
                    // the same call): give it back and ask again.
                    let (b, old) = (*b, *slot_size);
                    *slot = None;
                    self.release(b, old as usize);
                }
                None => {}
            }
            if let Some(need) = self.need.get_mut(missing) {
                *need = size;
                missing += 1;
            }
        }
        if missing > 0 {
            for rest in self.need.iter_mut().skip(missing) {
                *rest = 0;
            }
            return Err(Error::NeedStorage);
        }
        let mut r = Reserved { blocks: [None; PLAN_MAX], sizes: [0; PLAN_MAX] };
        let mut j = 0;
        for (i, &n) in plan.iter().enumerate().take(PLAN_MAX) {
            if n == 0 {
                continue;
            }
            if let (Some(dst), Some(size), Some(src), Some(src_size)) =
                (r.blocks.get_mut(i), r.sizes.get_mut(i), self.spare.get_mut(j), self.spare_size.get(j))
            {
                *dst = src.take();
                *size = *src_size;
            }
            j += 1;
        }
        self.release_spares();
        self.need = [0; PLAN_MAX];
        Ok(r)
    }

    /// Gives back spares no plan uses (a call that did not repeat).
    fn release_spares(&mut self) {
        for i in 0..PLAN_MAX {
            if let (Some(slot), Some(size)) = (self.spare.get_mut(i), self.spare_size.get(i)) {
                if let Some(b) = slot.take() {
                    let size = *size as usize;
                    self.release(b, size);
                }
            }
        }
    }

    /// Clears a block no longer used and puts it on the released chain.
    /// Out of line: inlined at each of its callers it costs flash.
    #[inline(never)]
    pub(crate) fn release(&mut self, block: NonNull<u8>, size: usize) {
        // SAFETY: `block` was granted with `size` bytes and nothing refers
        // to it any more: the caller has unlinked it.
        unsafe { block.as_ptr().write_bytes(0, size) };
        self.release_keep(block, size);
    }

    /// Puts a block on the released chain without clearing it: only its
    /// first two words change (the chain link and the size), so the bytes
    /// after them stay readable until the caller takes the block back (a
    /// reassembled payload that an event points into).
    pub(crate) fn release_keep(&mut self, block: NonNull<u8>, size: usize) {
        // SAFETY: `block` was granted with `size` bytes (at least two words,
        // word-aligned: checked in `grant`) and the engine no longer uses it.
        unsafe {
            let words = block.as_ptr().cast::<usize>();
            words.write(self.released.map_or(0, |p| p.as_ptr() as usize));
            words.add(1).write(size);
        }
        self.released = Some(block);
    }
}

impl Engine {
    /// Bytes of the next block the last call asked for with
    /// [`Error::NeedStorage`]; 0 once every block asked for was granted (then
    /// repeat the call).
    pub fn storage_need(&self) -> usize {
        self.store.need.first().map_or(0, |n| *n as usize)
    }

    /// Gives the engine the block [`Engine::storage_need`] names.
    /// [`Error::Buffer`] (and the caller keeps the block) if it is
    /// misaligned, not the size asked for, or nothing was asked.
    ///
    /// # Safety
    /// `block` is valid for reads and writes of `size` bytes and used by
    /// nobody else until [`Engine::storage_take`] returns it.
    pub unsafe fn storage_grant(&mut self, block: NonNull<u8>, size: usize) -> Result<(), Error> {
        let s = &mut self.store;
        let need = s.need.first().map_or(0, |n| *n as usize);
        if need == 0 || size != need || block.as_ptr() as usize % WORD != 0 {
            return Err(Error::Buffer);
        }
        let Some(i) = s.spare.iter().position(Option::is_none) else {
            return Err(Error::Buffer);
        };
        // SAFETY: the caller grants `size` writable bytes.
        unsafe { block.as_ptr().write_bytes(0, size) };
        if let (Some(slot), Some(slot_size)) = (s.spare.get_mut(i), s.spare_size.get_mut(i)) {
            *slot = Some(block);
            *slot_size = size as u32;
        }
        s.need.rotate_left(1);
        if let Some(last) = s.need.last_mut() {
            *last = 0;
        }
        s.blocks += 1;
        s.bytes += size as u32;
        Ok(())
    }

    /// The caller cannot supply what the last call asked for: repeated, the
    /// call fails with [`Error::NoMemory`] (or answers 5.03, for
    /// [`Engine::receive`]) and changes nothing.
    pub fn storage_refuse(&mut self) {
        self.store.refused = true;
        self.store.need = [0; PLAN_MAX];
    }

    /// A block the engine no longer uses, with its size, to be freed by
    /// the caller; call after every call until it returns `None`.
    pub fn storage_take(&mut self) -> Option<(NonNull<u8>, usize)> {
        let s = &mut self.store;
        let block = s.released?;
        // SAFETY: blocks on the chain hold the next link and their size in
        // their first two words (written by `release`).
        let (next, size) = unsafe {
            let words = block.as_ptr().cast::<usize>();
            let next = words.read();
            let size = words.add(1).read();
            words.write(0);
            words.add(1).write(0);
            (next, size)
        };
        s.released = NonNull::new(next as *mut u8);
        s.blocks = s.blocks.saturating_sub(1);
        s.bytes = s.bytes.saturating_sub(size as u32);
        Some((block, size))
    }

    /// What the engine holds.
    pub fn storage_stats(&self) -> StorageStats {
        StorageStats {
            blocks: self.store.blocks,
            bytes: self.store.bytes,
            remote_bytes: self.store.remote_used,
            remote_budget: self.store.remote_budget,
        }
    }

    /// Sets the remote budget (see [`REMOTE_BUDGET`](crate::capacity::REMOTE_BUDGET)).
    pub fn set_remote_budget(&mut self, bytes: u32) {
        self.store.remote_budget = bytes;
    }
}

/// A hosted supply of storage for the engine (tests, fuzzing, examples):
/// blocks from the global allocator, with fault injection. Freed blocks
/// stay reserved until the `Heap` is dropped, so no address is handed out
/// twice and a stale pointer to a freed block can be detected.
///
/// ```
/// use core::mem::MaybeUninit;
/// use mpcoap::engine::{Engine, Error, Heap, Instant};
/// let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
/// let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
/// let mut heap = Heap::default();
/// // Without storage, a call asks for it and changes nothing.
/// assert_eq!(engine.add_resource(b"a", None, None, b"on", false), Err(Error::NeedStorage));
/// let h = heap.run(engine, |e| e.add_resource(b"a", None, None, b"on", false))?;
/// assert_eq!(engine.resource_value(h)?, b"on");
/// // The next allocation fails: the call changes nothing.
/// heap.fail_at = Some(heap.allocations() + 1);
/// assert_eq!(heap.run(engine, |e| e.add_resource(b"b", None, None, b"", false)), Err(Error::NoMemory));
/// assert_eq!(engine.find_resource(b"b"), None);
/// heap.run(engine, |e| e.remove_resource(h))?;
/// assert_eq!((heap.live_blocks(), engine.storage_stats().blocks), (0, 0));
/// # Ok::<(), Error>(())
/// ```
#[cfg(any(test, feature = "std"))]
#[derive(Default)]
pub struct Heap {
    live: std::collections::HashMap<usize, usize>,
    freed: std::vec::Vec<(usize, usize)>,
    allocations: u64,
    /// Refuse the allocation with this number (counted from 1 by
    /// [`Heap::allocations`]), once.
    pub fail_at: Option<u64>,
}

#[cfg(any(test, feature = "std"))]
impl Heap {
    const ALIGN: usize = 16;

    /// Allocations made (or refused) so far.
    pub fn allocations(&self) -> u64 {
        self.allocations
    }

    /// Blocks allocated and not freed.
    pub fn live_blocks(&self) -> usize {
        self.live.len()
    }

    /// Their sizes, summed.
    pub fn live_bytes(&self) -> usize {
        self.live.values().sum()
    }

    /// Addresses and sizes of freed blocks (for stale-pointer scans).
    pub fn freed(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.freed.iter().copied()
    }

    /// Addresses and sizes of live blocks.
    pub fn live(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.live.iter().map(|(a, n)| (*a, *n))
    }

    fn allocate(&mut self, size: usize) -> Option<NonNull<u8>> {
        self.allocations += 1;
        if self.fail_at == Some(self.allocations) {
            self.fail_at = None;
            return None;
        }
        let layout = std::alloc::Layout::from_size_align(size.max(1), Self::ALIGN).ok()?;
        // SAFETY: the layout has a non-zero size.
        let p = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })?;
        self.live.insert(p.as_ptr() as usize, size);
        Some(p)
    }

    /// Frees what the engine released.
    pub fn collect(&mut self, engine: &mut Engine) {
        while let Some((b, n)) = engine.storage_take() {
            let size = self.live.remove(&(b.as_ptr() as usize));
            assert_eq!(size, Some(n), "the engine gave back a block it was not granted, or with another size");
            self.freed.push((b.as_ptr() as usize, n));
        }
    }

    fn supply(&mut self, engine: &mut Engine) {
        loop {
            let n = engine.storage_need();
            if n == 0 {
                return;
            }
            match self.allocate(n) {
                // SAFETY: a fresh allocation of `n` bytes, used by nobody else.
                Some(b) if unsafe { engine.storage_grant(b, n) }.is_ok() => {}
                // (A failed grant never happens: a fresh block of the size
                // asked for. It would stay live in the heap, a visible leak.)
                _ => return engine.storage_refuse(),
            }
        }
    }

    /// Runs `f` on `engine`, granting what it asks for until it stops
    /// asking, then frees what the engine released: the loop the C shim
    /// runs around each engine call.
    pub fn run<T>(&mut self, engine: &mut Engine, mut f: impl FnMut(&mut Engine) -> Result<T, Error>) -> Result<T, Error> {
        let r = loop {
            match f(engine) {
                Err(Error::NeedStorage) => self.supply(engine),
                r => break r,
            }
        };
        self.collect(engine);
        r
    }

    /// [`Engine::receive`] with storage supplied.
    pub fn receive<'e>(
        &mut self,
        engine: &'e mut Engine,
        now: super::Instant,
        from: super::Endpoint,
        via_multicast: bool,
        datagram: &'e [u8],
        reply: &mut [u8],
    ) -> Result<super::Received<'e>, Error> {
        let e: *mut Engine = engine;
        loop {
            // SAFETY: `e` comes from `engine`, borrowed for 'e; each
            // iteration's borrow ends before the next (a NeedStorage result
            // borrows nothing), and the one returned is the last.
            match unsafe { &mut *e }.receive(now, from, via_multicast, datagram, reply) {
                Err(Error::NeedStorage) => self.supply(unsafe { &mut *e }),
                r => return r,
            }
        }
    }
}

#[cfg(any(test, feature = "std"))]
impl Drop for Heap {
    fn drop(&mut self) {
        for (a, n) in self.live.drain().chain(self.freed.drain(..)) {
            if let Ok(layout) = std::alloc::Layout::from_size_align(n.max(1), Self::ALIGN) {
                // SAFETY: allocated by `allocate` with this layout, freed once.
                unsafe { std::alloc::dealloc(a as *mut u8, layout) };
            }
        }
    }
}
