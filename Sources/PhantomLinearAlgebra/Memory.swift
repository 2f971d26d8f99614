import CLinAlg

/// The allocator setting the numerics want: batches, patches and Jacobians are tens of MB and are allocated and
/// freed thousands of times per analysis. glibc serves blocks above its mmap threshold (at most 32 MB, adjusted
/// dynamically) with fresh mappings, so every such array costs page faults and zeroing in the kernel. Raising the
/// threshold keeps freed blocks in the heap for reuse (glibc's `mallopt`, declared with malloc.h in CLinAlg's shim).
public enum Memory {
    /// Serve blocks up to 1 GiB from the heap and trim it only above 1 GiB of free memory at its top.
    public static func keepLargeBlocks() {
        phantom_keep_large_blocks(1 << 30)
    }
}
