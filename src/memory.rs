//! Handing memory back to the OS after a burst of short-lived allocations.
//!
//! Rendering a large source builds and drops hundreds of megabytes of `Value`s in a few seconds.
//! mimalloc keeps freed pages resident until a purge delay passes and the same thread allocates
//! again, so an idle server would go on counting a render's garbage in its RSS. Asking for a
//! collection on the rendering thread, right after it finished, returns it at once.
#![allow(unsafe_code)]

/// Frees the calling thread's unused pages and returns them to the OS. A no-op when another
/// global allocator is in use: the mimalloc heap is then empty.
pub fn release_freed() {
    // SAFETY: mi_collect takes no arguments beyond a flag, touches only the allocator's own
    // bookkeeping, and mimalloc documents it as callable at any time from any thread.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
