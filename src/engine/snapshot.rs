//! Everything observable of an [`Engine`], copied out (tests and feature
//! `std`): what the storage fault-injection tests (`tests_storage.rs`) and
//! the `storage` fuzz target compare before and after a call whose storage
//! was refused, which must have changed nothing.
//!
//! Block addresses are part of it: a failed call moves nothing either.

use std::vec::Vec;

use super::{Endpoint, Engine, StorageStats};

/// One resource, in the order added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceState {
    /// The handle number.
    pub id: u32,
    /// The caller's word.
    pub user: usize,
    /// The uri (no leading `/`).
    pub uri: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// Size of the value's block (0: none).
    pub value_cap: u32,
    /// Attributes `(name, value)` in the order added.
    pub attributes: Vec<(Vec<u8>, Vec<u8>)>,
    /// Content-Format, if set.
    pub media_type: Option<u16>,
    /// Max-Age, if set.
    pub max_age: Option<u32>,
    /// The ETag counter (kept even when ETags are off).
    pub etag: u16,
    /// Flag bits (media type, max-age, ETag enabled).
    pub flags: u8,
    /// The [`Methods`](super::Methods) bits enabled.
    pub methods: u8,
    /// The value length the application stored last.
    pub app_len: u32,
    /// Address of the node's block.
    pub node_at: usize,
    /// Address of the value's block, 0 for none.
    pub value_at: usize,
}

impl ResourceState {
    /// The resource's share of the remote budget: what peers stored
    /// beyond the application's value.
    pub fn remote_share(&self) -> usize {
        self.value.len().saturating_sub(self.app_len as usize)
    }
}

/// One client session, in the order created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// The handle number.
    pub id: u32,
    /// The caller's word.
    pub user: usize,
    /// The peer.
    pub peer: Endpoint,
    /// Address of the session's block.
    pub at: usize,
}

/// One request held by the client, in the order queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestState {
    /// The session's handle number.
    pub session: u32,
    /// Its Message ID.
    pub mid: u16,
    /// The destination.
    pub peer: Endpoint,
    /// Queued 1, outstanding 2, waiting for a separate response 3.
    pub state: u8,
    /// Next retransmission, give-up or end of the wait.
    pub deadline: u32,
    /// The current retransmission timeout.
    pub timeout: u32,
    /// Retransmissions so far.
    pub retransmits: u8,
    /// The token.
    pub token: Vec<u8>,
    /// The encoded CON, empty once acknowledged.
    pub bytes: Vec<u8>,
    /// Size of the bytes' block (0: none).
    pub bytes_cap: u16,
    /// Address of the request's block.
    pub at: usize,
    /// Address of the bytes' block, 0 for none.
    pub bytes_at: usize,
}

/// One Block1 transfer in progress, in the order started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferState {
    /// The peer sending it.
    pub peer: Endpoint,
    /// The resource's handle number.
    pub resource: u32,
    /// PUT or POST (code byte).
    pub method: u8,
    /// The bytes received so far.
    pub received: Vec<u8>,
    /// Size of the buffer's block.
    pub cap: u32,
    /// When its last block arrived.
    pub last: u32,
}

/// One observer (RFC 7641), in the order registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverState {
    /// The observing client.
    pub peer: Endpoint,
    /// The registration's token.
    pub token: Vec<u8>,
    /// The resource's handle number.
    pub resource: u32,
    /// The next Observe number.
    pub seq: u32,
    /// Internal state bits.
    pub state: u8,
}

/// One used deduplication entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupState {
    /// The sender.
    pub peer: Endpoint,
    /// The sender's Message ID.
    pub mid: u16,
    /// When it was seen.
    pub at: u32,
    /// What a duplicate gets, and the socket (internal codes).
    pub kind: u8,
    /// The code of a cached response.
    pub code: u8,
    /// Its ETag, Size1 or Max-Age.
    pub extra: u16,
}

/// Everything observable of an engine (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Resources in the order added.
    pub resources: Vec<ResourceState>,
    /// Sessions in the order created.
    pub sessions: Vec<SessionState>,
    /// Requests in the order queued.
    pub requests: Vec<RequestState>,
    /// Block1 transfers in progress.
    pub transfers: Vec<TransferState>,
    /// Observers (RFC 7641).
    pub observers: Vec<ObserverState>,
    /// Used deduplication entries, in ring order (CON ring, then NON).
    pub dedup: Vec<DedupState>,
    /// Dedup entries evicted while live.
    pub dedup_evictions: u32,
    /// The next Message ID.
    pub next_mid: u16,
    /// The next handle number.
    pub next_id: u32,
    /// The PRNG's state.
    pub rng: u32,
    /// Blocks and bytes held, remote budget and its use.
    pub stats: StorageStats,
    /// What the last call asked for (0 once granted or refused).
    pub storage_need: usize,
}

impl Snapshot {
    /// Σ of the resources' shares of the remote budget and of the
    /// observers' blocks, recomputed.
    pub fn remote_bytes(&self) -> usize {
        self.resources.iter().map(ResourceState::remote_share).sum::<usize>()
            + self.observers.len() * super::observe::OBSERVER_BYTES
    }
}

impl Engine {
    /// Everything observable, copied (see [`Snapshot`]).
    pub fn snapshot(&self) -> Snapshot {
        let (sessions, requests) = self.client.states();
        Snapshot {
            resources: self.resources.iter().map(|r| r.state()).collect(),
            sessions,
            requests,
            transfers: self.transfers.states(),
            observers: self.observers.states(),
            dedup: self.dedup.states(),
            dedup_evictions: self.dedup.evicted_live(),
            next_mid: self.next_mid,
            next_id: self.next_id,
            rng: self.rng.state(),
            stats: self.storage_stats(),
            storage_need: self.storage_need(),
        }
    }
}
