//! glibc allocator settings for training.
//!
//! A training step allocates and frees the same large activation buffers every time.
//! By default glibc serves blocks above its (dynamic) mmap threshold with fresh `mmap`s
//! and hands freed heap tops back to the OS, so every step pays page faults and page
//! zeroing again: about 6–9% of a 15M step in `perf`, and `bench-train` ran 4–12% faster
//! with the settings below. Blocks up to 32 MiB (glibc's maximum threshold) now stay on
//! the heap, and the heap is not trimmed.

/// Applies the settings; a no-op off glibc.
pub fn tune_for_training() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before the heavy allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
