//! Shared plumbing for the memscope Rust allocator targets (README.md).
//!
//! * [`Jemalloc`]: a `GlobalAlloc` over the statically linked jemalloc of
//!   Debian's jemalloc-sys 0.3.2 (`_rjem_`-prefixed symbols). It calls
//!   exactly what jemallocator / tikv-jemallocator call, so a binary using
//!   it has the allocator shape of a real program using those crates.
//! * Output and argument helpers that never touch the heap (the ground
//!   truth must not count its own bookkeeping): a fixed-size line buffer
//!   written with write(2), argv read from /proc/self/cmdline into a stack
//!   buffer, stdin read byte by byte with read(2).
//! * [`tokio_support`]: the READY/TRUTH protocol of tools/tokio.

use std::alloc::{GlobalAlloc, Layout};
use std::fmt;

use jemalloc_sys as ffi;
use libc::{c_int, c_void};

/// The alignment malloc guarantees (`alignof(max_align_t)`) on the targets
/// Debian builds for; what tikv-jemallocator calls `ALIGNOF_MAX_ALIGN_T`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub const MIN_ALIGN: usize = 16;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const MIN_ALIGN: usize = 8;

/// jemalloc flags for a layout: 0 (plain malloc/calloc/realloc) when the
/// alignment is one malloc gives anyway, else `MALLOCX_ALIGN(align)`
/// (mallocx/rallocx). The same rule as jemallocator's `layout_to_flags`.
#[inline]
pub fn layout_to_flags(align: usize, size: usize) -> c_int {
    if align <= MIN_ALIGN && align <= size {
        0
    } else {
        ffi::MALLOCX_ALIGN(align)
    }
}

/// The global allocator of both programs:
///
/// | GlobalAlloc | flags == 0 | flags != 0 |
/// |---|---|---|
/// | `alloc` (`__rust_alloc`) | `_rjem_malloc(size)` | `_rjem_mallocx(size, flags)` |
/// | `alloc_zeroed` (`__rust_alloc_zeroed`) | `_rjem_calloc(1, size)` | `_rjem_mallocx(size, flags \| MALLOCX_ZERO)` |
/// | `realloc` (`__rust_realloc`) | `_rjem_realloc(p, new)` | `_rjem_rallocx(p, new, flags)` |
/// | `dealloc` (`__rust_dealloc`) | `_rjem_sdallocx(p, size, 0)` | `_rjem_sdallocx(p, size, flags)` |
///
/// realloc's flags come from the old alignment and the *new* size.
pub struct Jemalloc;

unsafe impl GlobalAlloc for Jemalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let flags = layout_to_flags(layout.align(), layout.size());
        let ptr = if flags == 0 {
            ffi::malloc(layout.size())
        } else {
            ffi::mallocx(layout.size(), flags)
        };
        ptr as *mut u8
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let flags = layout_to_flags(layout.align(), layout.size());
        let ptr = if flags == 0 {
            ffi::calloc(1, layout.size())
        } else {
            ffi::mallocx(layout.size(), flags | ffi::MALLOCX_ZERO)
        };
        ptr as *mut u8
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let flags = layout_to_flags(layout.align(), layout.size());
        ffi::sdallocx(ptr as *mut c_void, layout.size(), flags)
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let flags = layout_to_flags(layout.align(), new_size);
        let ptr = if flags == 0 {
            ffi::realloc(ptr as *mut c_void, new_size)
        } else {
            ffi::rallocx(ptr as *mut c_void, new_size, flags)
        };
        ptr as *mut u8
    }
}

/// Which jemalloc entry point [`Jemalloc`] calls for each GlobalAlloc call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JeEntry {
    Malloc,
    Calloc,
    Mallocx,
    Realloc,
    Rallocx,
    Sdallocx,
}

impl JeEntry {
    pub fn name(self) -> &'static str {
        match self {
            JeEntry::Malloc => "_rjem_malloc",
            JeEntry::Calloc => "_rjem_calloc",
            JeEntry::Mallocx => "_rjem_mallocx",
            JeEntry::Realloc => "_rjem_realloc",
            JeEntry::Rallocx => "_rjem_rallocx",
            JeEntry::Sdallocx => "_rjem_sdallocx",
        }
    }
}

// ---- output and input without the heap -----------------------------------

/// A line built in a fixed buffer (longer text is cut) and written with
/// one write(2), so it cannot be interleaved with other output.
pub struct Line {
    buf: [u8; 4096],
    len: usize,
}

impl Line {
    pub const fn new() -> Line {
        Line { buf: [0; 4096], len: 0 }
    }

    pub fn emit(&mut self, fd: c_int) {
        write_all(fd, &self.buf[..self.len]);
        self.len = 0;
    }
}

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

pub fn write_all(fd: c_int, mut s: &[u8]) {
    while !s.is_empty() {
        let n = unsafe { libc::write(fd, s.as_ptr() as *const c_void, s.len()) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n <= 0 {
            return;
        }
        s = &s[n as usize..];
    }
}

/// Block until a line (or EOF) arrives on stdin; read(2), no buffer.
pub fn wait_line() {
    let mut c = 0u8;
    loop {
        let n = unsafe { libc::read(0, &mut c as *mut u8 as *mut c_void, 1) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n <= 0 || c == b'\n' {
            return;
        }
    }
}

/// `_exit(code)`: no Rust or libc teardown (nothing freed behind the truth).
pub fn exit_now(code: c_int) -> ! {
    unsafe { libc::_exit(code) }
}

/// The command line, read from /proc/self/cmdline into a fixed buffer
/// (std::env::args allocates one String per argument, which would make a
/// run with one more argument allocate more).
pub struct Argv {
    buf: [u8; 4096],
    len: usize,
}

impl Argv {
    pub fn read() -> Argv {
        let mut a = Argv { buf: [0; 4096], len: 0 };
        let path = b"/proc/self/cmdline\0";
        let fd = unsafe { libc::open(path.as_ptr() as *const libc::c_char, libc::O_RDONLY) };
        if fd >= 0 {
            while a.len < a.buf.len() {
                let n = unsafe {
                    libc::read(
                        fd,
                        a.buf[a.len..].as_mut_ptr() as *mut c_void,
                        a.buf.len() - a.len,
                    )
                };
                if n <= 0 {
                    break;
                }
                a.len += n as usize;
            }
            unsafe { libc::close(fd) };
        }
        a
    }

    /// The arguments after the program name.
    pub fn args(&self) -> impl Iterator<Item = &str> {
        let end = if self.len > 0 && self.buf[self.len - 1] == 0 { self.len - 1 } else { self.len };
        self.buf[..end]
            .split(|&b| b == 0)
            .skip(1)
            .map(|s| std::str::from_utf8(s).unwrap_or("\u{fffd}"))
    }
}

/// splitmix64, seeded per thread, as in tools/targets/alloc_family.c.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

pub mod tokio_support;
