# Atomic loads, stores, compare-and-swap and fetch-add on memory shared between processes.
#
# The frame ring (fastrec.engine.ring) keeps its control block and slot states in shared
# memory and moves slots between states with these operations only: no locks, so a
# process killed at any instruction cannot leave one held.

from libc.stdint cimport uint32_t, uint64_t, uintptr_t


cdef extern from "_atomic.h" nogil:
    uint32_t fr_load32(uint32_t* p)
    void fr_store32(uint32_t* p, uint32_t v)
    bint fr_cas32(uint32_t* p, uint32_t expected, uint32_t desired)
    uint32_t fr_add32(uint32_t* p, uint32_t v)
    uint64_t fr_load64(uint64_t* p)
    void fr_store64(uint64_t* p, uint64_t v)
    bint fr_cas64(uint64_t* p, uint64_t expected, uint64_t desired)
    uint64_t fr_add64(uint64_t* p, uint64_t v)


cdef class AtomicWords:
    """Atomic access to the aligned 32- and 64-bit words of a writable buffer.

    ``AtomicWords(buffer)`` takes any writable, contiguous buffer (an mmap, a uint8 numpy
    array over one) and holds it until ``release()``.  Offsets are in bytes and must be
    multiples of the word size; loads acquire, stores release, ``cas*`` and ``add*`` are
    sequentially consistent.  ``cas*`` returns whether the swap happened, ``add*`` the
    previous value.
    """

    cdef unsigned char[::1] _view
    cdef unsigned char* _base
    cdef readonly Py_ssize_t size

    def __cinit__(self, unsigned char[::1] buffer not None):
        if buffer.shape[0] < 8:
            raise ValueError(f"buffer must hold at least 8 bytes, got {buffer.shape[0]}")
        if <uintptr_t>&buffer[0] % 8:
            raise ValueError("buffer must start at an 8-byte aligned address")
        self._view = buffer
        self._base = &buffer[0]
        self.size = buffer.shape[0]

    cdef inline unsigned char* _word(self, Py_ssize_t offset, Py_ssize_t width) except NULL:
        if self._base == NULL:
            raise ValueError("AtomicWords was released")
        if offset < 0 or offset > self.size - width or offset % width:
            raise IndexError(f"offset must be a multiple of {width} in 0..{self.size - width}, "
                             f"got {offset}")
        return self._base + offset

    def load32(self, Py_ssize_t offset):
        return fr_load32(<uint32_t*>self._word(offset, 4))

    def store32(self, Py_ssize_t offset, uint32_t value):
        fr_store32(<uint32_t*>self._word(offset, 4), value)

    def cas32(self, Py_ssize_t offset, uint32_t expected, uint32_t desired):
        return fr_cas32(<uint32_t*>self._word(offset, 4), expected, desired)

    def add32(self, Py_ssize_t offset, uint32_t value):
        return fr_add32(<uint32_t*>self._word(offset, 4), value)

    def load64(self, Py_ssize_t offset):
        return fr_load64(<uint64_t*>self._word(offset, 8))

    def store64(self, Py_ssize_t offset, uint64_t value):
        fr_store64(<uint64_t*>self._word(offset, 8), value)

    def cas64(self, Py_ssize_t offset, uint64_t expected, uint64_t desired):
        return fr_cas64(<uint64_t*>self._word(offset, 8), expected, desired)

    def add64(self, Py_ssize_t offset, uint64_t value):
        return fr_add64(<uint64_t*>self._word(offset, 8), value)

    def release(self):
        """Drop the buffer, so that its owner can unmap it; later calls raise ValueError."""
        self._base = NULL
        self._view = None
        self.size = 0
