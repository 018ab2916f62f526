//! Message layer, server and client (filled in by the engine work).
