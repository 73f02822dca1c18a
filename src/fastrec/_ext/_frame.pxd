# Declarations shared by the frame kernels (_convert, _masks).
#
# Colour: every I420 frame fastrec produces is BT.709, limited ("tv") range; the encoder
# tags its streams the same way, so decoders invert exactly this matrix.

from libc.stdint cimport uint8_t, int32_t

cdef enum:
    CSHIFT = 14          # fraction bits of the colour coefficients below
    Y_R = 2991
    Y_G = 10064
    Y_B = 1016
    U_R = -1649
    U_G = -5547
    U_B = 7196
    V_R = 7196
    V_G = -6536
    V_B = -660


cdef struct Plane:
    # A view on pixel memory: `channels` interleaved bytes per pixel, rows `stride` apart.
    uint8_t* data
    Py_ssize_t stride
    int width
    int height
    int channels


cdef inline uint8_t clamp_u8(int32_t v) noexcept nogil:
    return <uint8_t>(0 if v < 0 else (255 if v > 255 else v))


cdef inline uint8_t luma(int32_t r, int32_t g, int32_t b) noexcept nogil:
    # r, g, b in 0..255
    return <uint8_t>((Y_R * r + Y_G * g + Y_B * b + (16 << CSHIFT) + (1 << (CSHIFT - 1))) >> CSHIFT)


cdef inline uint8_t chroma_u(int32_t r, int32_t g, int32_t b, int shift) noexcept nogil:
    # r, g, b carry `shift` extra fraction bits (2 for a sum of four pixels)
    cdef int s = CSHIFT + shift
    return clamp_u8((U_R * r + U_G * g + U_B * b + (128 << s) + (1 << (s - 1))) >> s)


cdef inline uint8_t chroma_v(int32_t r, int32_t g, int32_t b, int shift) noexcept nogil:
    cdef int s = CSHIFT + shift
    return clamp_u8((V_R * r + V_G * g + V_B * b + (128 << s) + (1 << (s - 1))) >> s)
