//! glibc allocator settings for training.
//!
//! A training step allocates and frees the same large activation buffers every time.
//! By default glibc serves blocks above its (dynamic) mmap threshold with fresh `mmap`s
//! and hands freed heap tops back to the OS, so every step pays page faults and page
//! zeroing again: about 6–9% of a 15M step in `perf`, and `bench-train` ran 4–12% faster
//! with the first and last settings below: blocks up to 32 MiB (glibc's maximum
//! threshold) stay on the heap, and the heap is not trimmed. Blocks above 32 MiB (the
//! logits, the attention scores of long windows) would still be fresh `mmap`s, so `mmap`
//! is switched off altogether (`M_MMAP_MAX` 0): another 10–12% (bench/results/train.json). The
//! cost is that freed memory stays with the process, which a training run reuses anyway.

/// Applies the settings; a no-op off glibc.
pub fn tune_for_training() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before the heavy allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
